"""`implement curate`: prepared samples as chat conversations, with the prompts used at inference.

Every transition gives two conversations of the unified world model, built by the same
functions `LLMWorldModel` sends (`implement.prompts.world_model`), so training and
inference cannot drift apart:
- perception (`[PER]`): state before, action, success, the observation and the other
  receptacles in view -> the parsed state after;
- prediction (`[PRE]`): state before, action and the sample's MetaICL conditions -> the
  state after. Going to a closed receptacle never seen inside asks, as at inference, to
  also imagine what opening it shows: the target lists what it truly holds (recorded at
  collection) with `"open": false`.

Writes `curated_samples_perception.jsonl` and `curated_samples_prediction.jsonl`, one
`{"mode", "game", "messages"}` object per line.

Samples prepared in either dialect are read (the reference's carry `old_state`/`new_state`
and their conditions inline). `dialect="reference"` writes the conversations the
reference-dialect world model sends and expects back (its prompt layout, its states as
answers); going to a closed receptacle is then trained as the reference does: the arrival
as it is, without object lists (opening it is a sample of its own). `format="diff"`
(`world_model.format`, our dialect only) writes the diff prompts and answers with the compact
diff from the state before (`implement.state.state_diff`), as `LLMWorldModel` then reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from implement.data.prepare import CONDITIONS_DIR
from implement.errors import DataError
from implement.jsonl import read_jsonl, write_line
from implement.llm.base import Message
from implement.metaicl import Conditions, read_conditions
from implement.prompts.world_model import (
    DIFF,
    STATE,
    answer_message,
    check_format,
    perception_messages,
    prediction_messages,
)
from implement.state import ReceptacleState, StateError, SymbolicState
from implement.world_model.base import closed_unvisited_target
from implement.world_model.dialect import (
    IMPLEMENT,
    REFERENCE,
    conditions_from_reference,
    from_reference,
)

PERCEPTION_FILE, PREDICTION_FILE = "curated_samples_perception.jsonl", "curated_samples_prediction.jsonl"


@dataclass
class CurateReport:
    perception: int = 0
    prediction: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "skipped": len(self.skipped)}


def _states(sample: dict[str, Any]) -> tuple[SymbolicState, SymbolicState]:
    return SymbolicState.from_dict(sample["state_before"]), SymbolicState.from_dict(sample["state_after"])


def _normalized(sample: dict[str, Any], conditions: Conditions) -> tuple[dict[str, Any], Conditions]:
    """A prepared sample in our fields, and the conditions it shows (either dialect's sample)."""
    if "old_state" not in sample:
        shown = Conditions(
            object_lists={r: conditions.object_lists[r] for r in sample["object_lists"]},
            failed_actions=[conditions.failed_actions[i] for i in sample["failed_actions"]],
        )
        return sample, shown
    ours = {
        **sample,
        "state_before": from_reference(sample["old_state"]).to_dict(),
        "state_after": from_reference(sample["new_state"]).to_dict(),
        "success": sample["action_success"],
        "visible_receptacles": sample.get("other_visible_receptacles", []),
    }
    return ours, conditions_from_reference(sample["condition_1"], sample["condition_2"])


def perception_conversation(
    sample: dict[str, Any], *, dialect: str = IMPLEMENT, format: str = STATE
) -> list[Message]:
    before, after = _states(sample)
    messages = perception_messages(
        before,
        sample["action"],
        sample["observation"],
        succeeded=bool(sample["success"]),
        visible=sample.get("visible_receptacles", []),
        dialect=dialect,
        format=format,
    )
    return [*messages, answer_message(after, dialect=dialect, diff_from=before if format == DIFF else None)]


def prediction_conversation(
    sample: dict[str, Any], shown: Conditions, *, dialect: str = IMPLEMENT, format: str = STATE
) -> list[Message]:
    """The `[PRE]` conversation of a sample showing the conditions `shown`."""
    before, after = _states(sample)
    action = sample["action"]
    closed = closed_unvisited_target(before, action)
    if check_format(format, dialect) == STATE and dialect == REFERENCE:
        if closed is not None:
            shown = Conditions(failed_actions=shown.failed_actions)  # as LLMWorldModel asks it
        return [
            *prediction_messages(before, action, shown, dialect=REFERENCE),
            answer_message(after, dialect=REFERENCE),
        ]
    target = after.receptacle(closed) if closed is not None else None
    if closed is not None and target is not None and target.open is False and "hidden_objects" in sample:
        opened = ReceptacleState(visited=True, open=False, objects=tuple(sample["hidden_objects"]))
        after = replace(after, world_state={**after.world_state, closed: opened})
    messages = prediction_messages(before, action, shown, imagine_opened=closed, format=format)
    return [*messages, answer_message(after, diff_from=before if format == DIFF else None)]


def curate(
    input_files: Sequence[Path],
    out: Path,
    *,
    data_dir: Path | None = None,
    dialect: str = IMPLEMENT,
    format: str = STATE,
) -> CurateReport:
    """Conversations in `dialect` and `format` from prepared sample files; conditions from
    `data_dir/conditions` (default: the input's folder)."""
    check_format(format, dialect)
    report = CurateReport()
    if not input_files:
        raise DataError("no input files given")
    out.mkdir(parents=True, exist_ok=True)
    partial = {name: out / (name + ".partial") for name in (PERCEPTION_FILE, PREDICTION_FILE)}
    with partial[PERCEPTION_FILE].open("w") as per, partial[PREDICTION_FILE].open("w") as pre:
        for input_file in input_files:
            if not input_file.is_file():
                raise DataError(f"{input_file} not found: pass a samples file written by `implement prepare`")
            conditions = read_conditions((data_dir or input_file.parent) / CONDITIONS_DIR)
            for number, sample in enumerate(read_jsonl(input_file, skipped=report.skipped), 1):
                try:
                    game = sample["game"]
                    ours, shown = _normalized(sample, conditions.get(game, Conditions()))
                    perception = perception_conversation(ours, dialect=dialect, format=format)
                    prediction = prediction_conversation(ours, shown, dialect=dialect, format=format)
                except (KeyError, IndexError, TypeError, StateError) as exc:
                    report.skipped.append(
                        f"{input_file}: sample {number}: malformed ({type(exc).__name__}: {exc})"
                    )
                    continue
                write_line(per, {"mode": "perception", "game": game, "messages": perception})
                write_line(pre, {"mode": "prediction", "game": game, "messages": prediction})
                report.perception += 1
                report.prediction += 1
    if not report.perception:
        for path in partial.values():
            path.unlink()
        raise DataError(f"no usable samples in {', '.join(map(str, input_files))}")
    for name, path in partial.items():
        path.replace(out / name)
    return report
