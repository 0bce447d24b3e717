"""The learning curve read from a Trainer's log history, and its SVG plot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from implement.train.curve import learning_curve, plot_curve

SVG = "{http://www.w3.org/2000/svg}"
HISTORY = [
    {"eval_loss": 2.5, "step": 0},
    {"loss": 3.0, "step": 5, "learning_rate": 1e-4},
    {"loss": 1.0, "step": 10},
    {"eval_loss": 0.9, "step": 10},
    {"train_runtime": 12.0, "step": 10},  # the run's summary: no loss
]


def test_the_curve_has_both_series_by_step() -> None:
    assert learning_curve(HISTORY) == {"loss": [[5, 3.0], [10, 1.0]], "eval_loss": [[0, 2.5], [10, 0.9]]}


def test_the_plot_draws_one_line_a_series_on_a_log_axis(tmp_path: Path) -> None:
    root = ET.parse(plot_curve(learning_curve(HISTORY), tmp_path / "c.svg", "smollm2-135m, full")).getroot()
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2 and len(root.findall(f"{SVG}circle")) == 4
    training = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    assert training[0][0] < training[1][0] and training[0][1] < training[1][1]  # later, lower loss: lower
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "smollm2-135m, full" in labels and "training" in labels and "validation" in labels


def test_nothing_to_plot_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no positive loss"):
        plot_curve({"loss": [], "eval_loss": []}, tmp_path / "c.svg", "empty")
