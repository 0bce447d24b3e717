"""A run directory: `run.json`, `episodes.jsonl`, `memory.jsonl` and `steps/`, written as things happen."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
from collections.abc import Container
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from implement.config import Config
from implement.errors import ImplementError
from implement.jsonl import (
    append_jsonl,
    read_jsonl,
    repair_jsonl,
    rewrite_jsonl,
    write_json_atomic,
    write_line,
)
from implement.prompts import prompt_versions

logger = logging.getLogger(__name__)

RUN_FILE, EPISODES_FILE, MEMORY_FILE, STEPS_DIR = "run.json", "episodes.jsonl", "memory.jsonl", "steps"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("implement", "textworld", "alfworld", "fast_downward_textworld"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def git_revision() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def default_run_dir(config: Config) -> Path:
    """Where a run goes when neither --out nor `evaluation.out` names one: runs/<agent>-<split>-<time>."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.evaluation.agent}-{config.environment.split}-{stamp}"


class RunDir:
    """Appends records line by line (flushed), and reads them back for resume and report."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def exists(self) -> bool:
        return (self.path / RUN_FILE).exists()

    def create(self, meta: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        meta = {
            **meta,
            "versions": versions(),
            "prompt_versions": prompt_versions(),
            "git_revision": git_revision(),
            "started_at": datetime.now(timezone.utc).isoformat(),
        }
        write_json_atomic(self.path / RUN_FILE, meta)

    def meta(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.path / RUN_FILE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ImplementError(
                f"{self.path} is not a run directory ({RUN_FILE} unreadable: {exc})"
            ) from exc
        return data

    def update_meta(self, **changes: Any) -> None:
        write_json_atomic(self.path / RUN_FILE, {**self.meta(), **changes})

    def episodes(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / EPISODES_FILE)

    def memories(self, finished: Container[tuple[str, int]] | None = None) -> dict[str, dict[str, Any]]:
        """The latest saved memory of each game; with `finished`, only those saved by these (game, trial)s."""
        return {
            m["game_id"]: m
            for m in read_jsonl(self.path / MEMORY_FILE)
            if finished is None or (m["game_id"], m["trial"]) in finished
        }

    def repair(self) -> None:
        """Drop torn lines left by a killed run, so that appending starts on a fresh line."""
        for name in (EPISODES_FILE, MEMORY_FILE):
            repair_jsonl(self.path / name)

    def drop_errors(self) -> list[tuple[str, int]]:
        """Remove the errored episodes' lines, to play them again; their (game, trial)s."""
        episodes = self.episodes()
        dropped = [(e["game"], e["trial"]) for e in episodes if e.get("error")]
        if dropped:
            rewrite_jsonl(self.path / EPISODES_FILE, [e for e in episodes if not e.get("error")])
            logger.info("%d errored episodes will be played again", len(dropped))
        return dropped

    def append_episode(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path / EPISODES_FILE, record)

    def append_memory(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path / MEMORY_FILE, record)

    def steps_path(self, trial: int, game_id: str) -> Path:
        """Where the step log of one episode lies."""
        return self.path / STEPS_DIR / f"trial_{trial:02d}" / (game_id.replace("/", "__") + ".jsonl")

    def open_steps(self, trial: int, game_id: str) -> IO[str]:
        """The step log of one episode, truncated: a re-run after a kill starts it afresh."""
        path = self.steps_path(trial, game_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w")

    write_line = staticmethod(write_line)
