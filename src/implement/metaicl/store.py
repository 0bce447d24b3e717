"""MetaICL conditions per task on disk, and their extraction from evaluation runs.

A conditions directory holds two JSON files keyed by game id: `object_lists.json`
(receptacle -> object types seen there, condition 1) and `failed_actions.json` (the
actions that failed, with their context, condition 2). `implement prepare` writes one
from collected trajectories, `implement extract-conditions` from evaluation runs
(`extract_conditions`), and `implement evaluate --conditions DIR` starts every listed
game's MetaICL memory from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from implement.errors import DataError
from implement.eval.rundir import RunDir
from implement.jsonl import read_jsonl, write_json_atomic
from implement.metaicl.collect import Step, collect_conditions, merge_conditions
from implement.metaicl.records import Conditions
from implement.state import StateError, SymbolicState

OBJECT_LISTS_FILE, FAILED_ACTIONS_FILE = "object_lists.json", "failed_actions.json"


def write_conditions(directory: Path, conditions: Mapping[str, Conditions]) -> None:
    """Write the conditions per game id as a conditions directory (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / OBJECT_LISTS_FILE, {g: c.object_lists for g, c in conditions.items()})
    write_json_atomic(
        directory / FAILED_ACTIONS_FILE,
        {g: c.to_dict()["failed_actions"] for g, c in conditions.items()},
    )


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(
            f"{path} not found: a conditions directory holds {OBJECT_LISTS_FILE} and {FAILED_ACTIONS_FILE}"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path} should map game ids to conditions, found a JSON {type(data).__name__}")
    return data


def read_conditions(directory: Path) -> dict[str, Conditions]:
    """The conditions per game id of a conditions directory (as `write_conditions` left it)."""
    lists, failed = _load(directory / OBJECT_LISTS_FILE), _load(directory / FAILED_ACTIONS_FILE)
    try:
        return {
            game: Conditions.from_dict(
                {"object_lists": lists.get(game, {}), "failed_actions": failed.get(game, [])}
            )
            for game in {*lists, *failed}
        }
    except (AttributeError, TypeError) as exc:
        raise DataError(f"{directory}: malformed conditions ({exc})") from exc


def _episode_steps(lines: Iterable[dict[str, Any]]) -> list[Step]:
    """(before, action, succeeded, after) of an episode's step log (the first line is the reset)."""
    steps: list[Step] = []
    before: SymbolicState | None = None
    for line in lines:
        if "state" not in line:
            continue  # the error line of an episode that failed
        state = SymbolicState.from_dict(line["state"])
        observation = line["observation"]
        if before is not None and observation.get("action"):
            steps.append((before, observation["action"], bool(observation["succeeded"]), state))
        before = state
    return steps


def extract_conditions(
    run_dirs: Iterable[Path], *, skipped: list[str] | None = None
) -> dict[str, Conditions]:
    """Conditions per game from evaluation runs: every trial's trajectory, merged in trial order."""
    per_game: dict[str, list[tuple[int, Conditions]]] = {}
    for run_dir in run_dirs:
        run = RunDir(run_dir)
        if not run.exists:
            raise DataError(f"{run_dir} is not an evaluation run (no run.json): pass an `evaluate --out`")
        for episode in run.episodes():
            game, trial = episode["game"], int(episode["trial"])
            path = run.steps_path(trial, game)
            try:
                steps = _episode_steps(read_jsonl(path, skipped=skipped))
            except (KeyError, TypeError, StateError) as exc:
                if skipped is not None:
                    skipped.append(f"{path}: malformed step line ({exc})")
                continue
            per_game.setdefault(game, []).append((trial, collect_conditions(steps)))
    return {
        g: merge_conditions(*(c for _, c in sorted(found, key=lambda x: x[0])))
        for g, found in per_game.items()
    }
