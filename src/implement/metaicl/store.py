"""MetaICL conditions per task on disk, and their extraction from evaluation runs.

A conditions directory holds two JSON files keyed by game id: `object_lists.json`
(receptacle -> object types seen there, condition 1) and `failed_actions.json` (the
actions that failed, with their context, condition 2). Failed actions are objects
(`FailedAction`'s fields) in our dialect, or the reference's `[action, location,
inventory, receptacle state]` lists in its conventions (None hands, "middle of the
room"): `write_conditions(..., dialect="reference")` writes those, and `read_conditions`
reads either (the reference's own files are keyed by trajectory hashes, not game ids).
`implement prepare` writes one from collected trajectories, `implement extract-conditions`
from evaluation runs (`extract_conditions`), and `implement evaluate --conditions DIR`
starts every listed game's MetaICL memory from it.
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


def write_conditions(
    directory: Path, conditions: Mapping[str, Conditions], *, dialect: str = "implement"
) -> None:
    """Write the conditions per game id as a conditions directory (created if missing)."""
    from implement.world_model.dialect import (
        REFERENCE,
        check_dialect,
        conditions_to_reference,
    )  # it imports this package

    reference = check_dialect(dialect) == REFERENCE
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / OBJECT_LISTS_FILE, {g: c.object_lists for g, c in conditions.items()})
    write_json_atomic(
        directory / FAILED_ACTIONS_FILE,
        {
            g: conditions_to_reference(c)[1] if reference else c.to_dict()["failed_actions"]
            for g, c in conditions.items()
        },
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
    """The conditions per game id of a conditions directory, in either dialect (see the module)."""
    from implement.world_model.dialect import conditions_from_reference  # it imports this package

    lists, failed = _load(directory / OBJECT_LISTS_FILE), _load(directory / FAILED_ACTIONS_FILE)
    conditions = {}
    for game in {*lists, *failed}:
        object_lists, failed_actions = lists.get(game, {}), failed.get(game, [])
        try:
            if isinstance(failed_actions, list) and any(isinstance(f, list) for f in failed_actions):
                conditions[game] = conditions_from_reference(object_lists, failed_actions)
            else:
                conditions[game] = Conditions.from_dict(
                    {"object_lists": object_lists, "failed_actions": failed_actions}
                )
        except (AttributeError, TypeError, StateError) as exc:
            raise DataError(f"{directory}: malformed conditions of {game!r} ({exc})") from exc
    return conditions


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
