"""`implement wm fit` and `implement wm eval` in subprocesses, on the built games."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_wm_fit_then_eval_with_the_fitted_model(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "wm.json"
    fitted = cli("wm", "fit", "--split", "tiny", "--out", str(out))
    assert fitted.returncode == 0, fitted.stderr
    assert json.loads(out.read_text())
    spec = f"symbolic:{out}"
    result = cli("wm", "eval", "--split", "tiny", "--world-model", spec, "--samples", "4", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["games"] == 6 and report["deterministic_exact_match"] == 1.0
    assert report["search_rank"] <= report["search_rank_uniform"]
    assert report["search_rank_metaicl"] <= report["search_rank"]


def test_wm_eval_default_model_and_bad_spec(cli: Cli) -> None:
    result = cli("wm", "eval", "--split", "tiny", "--limit", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["games"] == 2
    bad = cli("wm", "eval", "--split", "tiny", "--world-model", "nope:x")
    assert bad.returncode == 1 and "expected one of" in bad.stderr


def test_wm_eval_of_an_llm_world_model_reports_its_parse_failures(cli: Cli, tmp_path: Path) -> None:
    """A model answering prose half the time: its samples are dropped, counted, and nothing crashes."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"rules": [{"match": ".", "responses": ["no idea, sorry", "{not json"]}]}))
    args = ("wm", "eval", "--split", "tiny", "--limit", "2", "--world-model", f"scripted:{script}")
    result = cli(*args, "--samples", "2", "--max-tokens", "64", "--no-search", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    stats = report["model_stats"]
    assert stats["samples"] == report["llm_usage"]["completions"] > 0
    assert stats["parse_failures"] == stats["samples"] and stats["empty_predictions"] == stats["requests"]
    assert report["search_rank"] is None and report["deterministic_transitions"] > 0
    bad = cli(*args, "--max-tokens", "0")
    assert bad.returncode == 1 and "world_model.max_tokens must be >= 1" in bad.stderr
