"""Acceptance on the real valid_seen games (skipped where they are not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from implement.envs.games import Game

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_expert_solves_every_valid_seen_game(valid_seen: list[Game], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "implement.cli", "evaluate", "--agent", "expert", "--split", "valid_seen",
         "--trials", "1", "--out", str(tmp_path / "run"), "--json"],
        capture_output=True, text=True, timeout=1200, env=os.environ.copy(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["episodes"] == len(valid_seen) == 140
    assert summary["sr_at"] == {"1": 1.0}
    assert summary["errors"] == 0
    assert summary["steps_ratio_to_walkthrough"] == 1.0
    assert len(summary["by_task_type"]) == 6
