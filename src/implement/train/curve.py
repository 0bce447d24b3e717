"""A training run's learning curve: the logged losses by step, and an SVG plot of them.

The points come from the Trainer's `log_history`: `loss` (training, every `logging_steps`)
and `eval_loss` (validation, every `eval_steps`, and before and after the run). The plot is
written without a plotting library: two polylines on a log-scaled loss axis.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

CURVE_SVG = "loss_curve.svg"
SERIES = {"loss": ("training", "#1f77b4"), "eval_loss": ("validation", "#d62728")}
WIDTH, HEIGHT, MARGIN = 640, 360, 56


def learning_curve(log_history: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Series name ("loss", "eval_loss") -> [[step, loss], ...] in step order."""
    curve: dict[str, list[list[float]]] = {name: [] for name in SERIES}
    for entry in log_history:
        for name in SERIES:
            if name in entry:
                curve[name].append([int(entry.get("step", 0)), round(float(entry[name]), 5)])
    return {name: sorted(points) for name, points in curve.items()}


def plot_curve(curve: dict[str, list[list[float]]], path: Path, title: str) -> Path:
    """Write the curve as an SVG line plot (loss on a log scale) to `path`."""
    points = [p for series in curve.values() for p in series if p[1] > 0]
    if not points:
        raise ValueError("no positive loss to plot")
    max_step = max(p[0] for p in points) or 1
    low, high = (math.log10(f(p[1] for p in points)) for f in (min, max))
    low, high = math.floor(low * 2) / 2, math.ceil(high * 2) / 2 + (0.5 if high == low else 0)

    def xy(step: float, loss: float) -> tuple[float, float]:
        x = MARGIN + (WIDTH - 2 * MARGIN) * step / max_step
        y = HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * (math.log10(loss) - low) / (high - low)
        return round(x, 1), round(y, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
        f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle">optimizer step</text>',
        f'<text x="14" y="{HEIGHT / 2}" transform="rotate(-90 14 {HEIGHT / 2})" text-anchor="middle">'
        "loss (log scale)</text>",
    ]
    for tick in range(int(low * 2), int(high * 2) + 1):  # every half decade
        value = 10 ** (tick / 2)
        _, y = xy(0, value)
        parts.append(f'<line x1="{MARGIN}" x2="{WIDTH - MARGIN}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{MARGIN - 4}" y="{y + 4}" text-anchor="end">{value:.3g}</text>')
    for step in (0, max_step // 2, max_step):
        x, _ = xy(step, 10**low)
        parts.append(f'<text x="{x}" y="{HEIGHT - MARGIN + 16}" text-anchor="middle">{step}</text>')
    for index, (name, (label, color)) in enumerate(SERIES.items()):
        series = [xy(step, loss) for step, loss in curve.get(name, []) if loss > 0]
        if not series:
            continue
        line = " ".join(f"{x},{y}" for x, y in series)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        parts.extend(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>' for x, y in series)
        ly = MARGIN + 16 * index
        parts.append(f'<line x1="{WIDTH - MARGIN - 110}" x2="{WIDTH - MARGIN - 90}" y1="{ly}" y2="{ly}" '
                     f'stroke="{color}" stroke-width="2"/>')  # fmt: skip
        parts.append(f'<text x="{WIDTH - MARGIN - 85}" y="{ly + 4}">{label}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
