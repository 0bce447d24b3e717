"""`implement prepare`: training samples with MetaICL conditions, from collected trajectories.

The conditions of a task are what all its collected trajectories showed (several
`--data-dirs` may hold runs of the same games): `collect_conditions` per trajectory,
merged per game. Each transition then becomes one sample that carries a random subset of
its game's conditions (`implement.metaicl.training_subset`). A sample names its conditions
(receptacles of `object_lists`, indices into `failed_actions`); `implement curate` reads
them from `conditions/` beside the samples.

Writes `training_samples_metaicl.jsonl` and `conditions/{object_lists,failed_actions}.json`.

`dialect="reference"` writes them in the reference's conventions (`implement.world_model.dialect`):
samples carry `old_state`/`new_state` (its states), `action_success`,
`other_visible_receptacles` and their conditions inline (`condition_1`, `condition_2`, its
lists), and failed actions are its lists. `implement curate` reads both.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from implement.data.collect import TRAJECTORIES_FILE
from implement.errors import DataError
from implement.jsonl import read_jsonl, write_line
from implement.metaicl import (
    Conditions,
    Step,
    collect_conditions,
    merge_conditions,
    training_subset,
    write_conditions,
)
from implement.state import StateError, SymbolicState
from implement.world_model.base import is_information_gathering
from implement.world_model.dialect import REFERENCE, check_dialect, conditions_to_reference, to_reference

SAMPLES_FILE, CONDITIONS_DIR = "training_samples_metaicl.jsonl", "conditions"
_COPIED = ("step", "action", "observation", "success", "state_before", "state_after")


@dataclass
class PrepareReport:
    trajectories: int = 0
    samples: int = 0
    games: int = 0
    skipped: list[str] = field(default_factory=list)  # what was left out, and why

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "skipped": len(self.skipped)}


@dataclass(frozen=True)
class _Trajectory:
    game: str
    steps: list[Step]
    transitions: list[dict[str, Any]]


def _read_trajectory(record: dict[str, Any]) -> _Trajectory:
    """A collected trajectory, checked; KeyError/TypeError/StateError when malformed."""
    transitions = record["transitions"]
    if not isinstance(transitions, list) or not isinstance(record["game"], str):
        raise TypeError("'game' must be a string and 'transitions' a list")
    steps: list[Step] = []
    for t in transitions:
        before, after = SymbolicState.from_dict(t["state_before"]), SymbolicState.from_dict(t["state_after"])
        if not isinstance(t["action"], str) or not isinstance(t["observation"], str):
            raise TypeError("a transition's 'action' and 'observation' must be strings")
        steps.append((before, t["action"], bool(t["success"]), after))
    return _Trajectory(record["game"], steps, transitions)


def load_trajectories(data_dirs: Sequence[Path], skipped: list[str]) -> list[_Trajectory]:
    """Every well-formed trajectory of the collect directories; malformed ones are described in `skipped`."""
    if not data_dirs:
        raise DataError("no data directories given")
    found = []
    for data_dir in data_dirs:
        path = Path(data_dir) / TRAJECTORIES_FILE
        if not path.is_file():
            raise DataError(f"{path} not found: pass directories written by `implement collect`")
        for number, record in enumerate(read_jsonl(path, skipped=skipped), 1):
            try:
                found.append(_read_trajectory(record))
            except (KeyError, TypeError, StateError) as exc:
                skipped.append(f"{path}: trajectory {number}: malformed ({type(exc).__name__}: {exc})")
    if not found:
        raise DataError(f"no usable trajectories in {', '.join(map(str, data_dirs))}")
    return found


def prepare(
    data_dirs: Sequence[Path], out: Path, *, seed: int = 0, dialect: str = "implement"
) -> PrepareReport:
    """Samples and conditions from collected trajectories, written in `dialect`."""
    reference = check_dialect(dialect) == REFERENCE
    report = PrepareReport()
    trajectories = load_trajectories(data_dirs, report.skipped)
    per_game: dict[str, list[Conditions]] = {}
    for trajectory in trajectories:
        per_game.setdefault(trajectory.game, []).append(collect_conditions(trajectory.steps))
    conditions = {game: merge_conditions(*found) for game, found in per_game.items()}
    write_conditions(out / CONDITIONS_DIR, conditions, dialect=dialect)

    rng = random.Random(seed)
    partial = out / (SAMPLES_FILE + ".partial")
    with partial.open("w") as samples:
        for trajectory in trajectories:
            game = conditions[trajectory.game]
            for (before, action, _, after), t in zip(trajectory.steps, trajectory.transitions, strict=True):
                gathering = is_information_gathering(before, action)
                object_lists, failed_actions = training_subset(game, information_gathering=gathering, rng=rng)
                sample = {
                    "game": trajectory.game,
                    **{k: t[k] for k in _COPIED},
                    "visible_receptacles": t.get("visible_receptacles", []),
                    "information_gathering": gathering,
                    "object_lists": object_lists,
                    "failed_actions": failed_actions,
                }
                if "hidden_objects" in t:
                    sample["hidden_objects"] = t["hidden_objects"]
                write_line(samples, _in_reference(sample, before, after, game) if reference else sample)
                report.samples += 1
    partial.replace(out / SAMPLES_FILE)
    report.trajectories, report.games = len(trajectories), len(conditions)
    return report


def _in_reference(
    sample: dict[str, Any], before: SymbolicState, after: SymbolicState, conditions: Conditions
) -> dict[str, Any]:
    """A sample with the reference's fields: its states, and its conditions inline."""
    shown = Conditions(
        object_lists={r: conditions.object_lists[r] for r in sample["object_lists"]},
        failed_actions=[conditions.failed_actions[i] for i in sample["failed_actions"]],
    )
    condition_1, condition_2 = conditions_to_reference(shown)
    ours = ("state_before", "state_after", "success", "visible_receptacles", "object_lists", "failed_actions")
    kept = {k: v for k, v in sample.items() if k not in ours}
    return {
        **kept,
        "action_success": sample["success"],
        "old_state": to_reference(before),
        "new_state": to_reference(after),
        "other_visible_receptacles": sample["visible_receptacles"],
        "condition_1": condition_1,
        "condition_2": condition_2,
    }
