"""The reference server's request bodies (the paper's code, `implement/api/server.py`), and how a
request's form is told.

The reference's client (`scripts/evaluate.py` there) posts, per batch of environments:

- `/generate_policy`: `current_goals`, `current_states` (states in the reference's dialect:
  dicts, or their Python-literal text), `histories` (lines "N. You successfully X." and
  "N. You attempt to X but fail."), `current_tasks` (task paths), `model`, `conditions_1`
  (per environment, `[receptacle, [object types]]` pairs) and `conditions_2` (per
  environment, `[action, location, inventory, receptacle state]` entries); it reads back a
  bare list of actions. It sends no admissible commands: they are derived from each state.
- `/perception`: `samples` of `action`, `action_success`, `old_state`, `new_frame` (base64
  image) and `other_visible_receptacles`; it reads back the states as the model writes them
  (Python-literal strings in its dialect).

Each reference body is translated into today's (`PolicyRequest`, `PerceptionSample`), so both
forms are served by one path; only the answer's shape follows the request's. `policy_form`
and `perception_form` tell the forms apart (pydantic discriminators).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from implement.agents.goals import GoalParseError, parse_goal
from implement.envs.admissible import derive_admissible_commands
from implement.envs.games import TASK_TYPES
from implement.serve.schemas import (
    FailedActionModel,
    HistoryStep,
    PerceptionRequest,
    PerceptionSample,
    PolicyRequest,
    State,
)
from implement.state import StateError, SymbolicState
from implement.world_model.dialect import REFERENCE_MIDDLE_OF_ROOM, from_reference
from implement.world_model.symbolic.placements import PlacementCounts

Form = Literal["implement", "reference"]
ReferenceState = str | dict[str, Any]
# A history line of the reference's client: its number, then what became of the command.
_SUCCEEDED = re.compile(r"^(?:\d+\.\s*)?You successfully (?P<action>.*)\.$")
_FAILED = re.compile(r"^(?:\d+\.\s*)?You attempt to (?P<action>.*) but fail\.$")
_HISTORY_FORMS = "'N. You successfully X.' or 'N. You attempt to X but fail.'"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_history_line(line: str) -> tuple[str, bool]:
    """'3. You successfully go to fridge 1.' -> ('go to fridge 1', True); ValueError if neither form."""
    text = line.strip()
    for pattern, succeeded in ((_SUCCEEDED, True), (_FAILED, False)):
        match = pattern.match(text)
        if match:
            return match.group("action").strip(), succeeded
    raise ValueError(f"history line {line!r}: expected {_HISTORY_FORMS}")


def _state(value: ReferenceState, where: str) -> SymbolicState:
    try:
        return from_reference(value)
    except StateError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def task_type_of(task: str, goal: str) -> str:
    """The task type a task path names (a folder starting with one), else the goal sentence's."""
    for part in PurePosixPath(task.replace("\\", "/")).parts:
        for task_type in TASK_TYPES:
            if part.startswith(task_type):
                return task_type
    try:
        return parse_goal(goal).task_type
    except GoalParseError as exc:
        raise ValueError(
            f"task {task!r} names no task type ({', '.join(TASK_TYPES)}) and the goal tells none: {exc}"
        ) from exc


class ReferencePolicyRequest(_Body):
    """The reference's `/generate_policy` body: one decision per environment (every key required, as
    there; `model` may be null for the server's policy)."""

    current_goals: list[str] = Field(description="the task sentence of each environment")
    current_states: list[ReferenceState] = Field(description="states in the reference's dialect")
    histories: list[list[str]] = Field(description=f"the steps taken so far, lines {_HISTORY_FORMS}")
    current_tasks: list[str] = Field(description="task paths (or types) of the environments")
    model: str | None = Field(description="policy spec for this request (null: the server's)")
    conditions_1: list[list[tuple[str, list[str]]]] = Field(
        description="MetaICL object lists per environment: [receptacle, [object types]] pairs"
    )
    conditions_2: list[list[tuple[str, str | None, str | None, dict[str, Any] | None]]] = Field(
        description="MetaICL failed actions per environment: [action, location, inventory, receptacle state]"
    )
    _translated: PolicyRequest = PrivateAttr()

    @model_validator(mode="after")
    def _translate(self) -> ReferencePolicyRequest:
        """Today's form of the request (without admissible commands): every conversion checked here."""
        n = len(self.current_goals)
        lists: dict[str, list[Any]] = {
            "current_states": self.current_states, "histories": self.histories,
            "current_tasks": self.current_tasks, "conditions_1": self.conditions_1,
            "conditions_2": self.conditions_2,
        }  # fmt: skip
        wrong = [f"{name} has {len(v)}" for name, v in lists.items() if len(v) != n]
        if wrong:
            raise ValueError(f"every list needs one entry per environment ({n} goals): " + ", ".join(wrong))
        self._translated = PolicyRequest(
            current_goals=self.current_goals,
            current_states=[
                State.of(_state(s, f"current_states[{i}]")) for i, s in enumerate(self.current_states)
            ],
            histories=[[_step(line) for line in lines] for lines in self.histories],
            current_tasks=[
                task_type_of(t, g) for t, g in zip(self.current_tasks, self.current_goals, strict=True)
            ],
            model=self.model,
            conditions_1=[{receptacle: list(kinds) for receptacle, kinds in c} for c in self.conditions_1],
            conditions_2=[[_failed(*entry) for entry in c] for c in self.conditions_2],
        )
        return self

    def standard(self, counts: PlacementCounts) -> PolicyRequest:
        """Today's form of this request, with each state's admissible commands derived (`counts`: the
        fitted facts of ALFWorld's object and receptacle types)."""
        derived = [
            list(derive_admissible_commands(s.symbolic(), counts)) for s in self._translated.current_states
        ]
        return self._translated.model_copy(update={"admissible_commands": derived})


def _step(line: str) -> HistoryStep:
    action, succeeded = parse_history_line(line)
    return HistoryStep(action=action, succeeded=succeeded)


def _failed(
    action: str, location: str | None, inventory: str | None, target: Mapping[str, Any] | None
) -> FailedActionModel:
    """A condition-2 entry in our conventions, read as the piece of a reference state it is."""
    name = " ".join(action.split(" ")[-2:])  # the reference's target: the action's last two words
    world = {name: target} if target else {}
    piece = _state({"agent_location": location or "", "inventory": inventory, "world_state": world},
                   f"conditions_2 entry for {action!r}")  # fmt: skip
    return FailedActionModel(
        action=action,
        agent_location=piece.agent_location,
        inventory=piece.inventory,
        target_state=piece.world_state[name].to_dict() if target else None,
    )


class ReferencePerceptionSample(_Body):
    action: str
    action_success: bool = Field(description="whether the environment ran the action (False: it failed)")
    old_state: ReferenceState = Field(description="the state before, in the reference's dialect")
    new_frame: str = Field(description="the view after the action: base64 image (or a data:/http(s) URL)")
    other_visible_receptacles: list[str] = Field(description="other receptacles in view")
    _translated: PerceptionSample = PrivateAttr()

    @model_validator(mode="after")
    def _translate(self) -> ReferencePerceptionSample:
        self._translated = PerceptionSample(
            action=self.action,
            action_success=self.action_success,
            old_state=State.of(_state(self.old_state, "old_state")),
            frame=self.new_frame,
            other_receptacles=self.other_visible_receptacles,
        )
        return self

    def standard(self) -> PerceptionSample:
        return self._translated


class ReferencePerceptionRequest(_Body):
    samples: list[ReferencePerceptionSample]

    def standard(self) -> PerceptionRequest:
        return PerceptionRequest(samples=[s.standard() for s in self.samples])


# ---------------------------------------------------------------- telling the forms apart

NEITHER_FORM = (
    "a body in neither form, or mixing them: today's has histories of {action, succeeded} objects,"
    " dict conditions_1 and optional admissible_commands (perception samples: observation, frame,"
    f" other_receptacles); the reference's has histories of lines {_HISTORY_FORMS}, conditions_1 of"
    " [receptacle, [types]] pairs, states in its dialect (perception samples: new_frame,"
    " other_visible_receptacles)"
)


def _decided(signals: set[Form]) -> Form | None:
    """The form the signals point to; today's when there are none; None when they disagree."""
    if len(signals) > 1:
        return None
    return signals.pop() if signals else "implement"


def _items(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    return list(value) if isinstance(value, list) else []


def _nested(body: Mapping[str, Any], key: str) -> list[Any]:
    return [x for entry in _items(body, key) if isinstance(entry, list) for x in entry]


def _state_signal(state: Any) -> Form | None:
    """'reference' for a state only the reference writes: a string, empty hands None, its start."""
    if isinstance(state, str):
        return "reference"
    if isinstance(state, Mapping) and (
        state.get("inventory", "") is None or state.get("agent_location") == REFERENCE_MIDDLE_OF_ROOM
    ):
        return "reference"
    return None


def _entry_signal(entry: Any) -> Form | None:
    """A history step or MetaICL entry: a line or a list is the reference's, an object today's."""
    if isinstance(entry, str | list):
        return "reference"
    return "implement" if isinstance(entry, Mapping) else None


def policy_form(body: Any) -> Form | None:
    """The form of a `/generate_policy` body, from what only one form holds."""
    if isinstance(body, BaseModel):
        return "reference" if isinstance(body, ReferencePolicyRequest) else "implement"
    if not isinstance(body, Mapping):
        return None
    entries = (*_nested(body, "histories"), *_items(body, "conditions_1"), *_nested(body, "conditions_2"))
    signals = {*map(_entry_signal, entries), *map(_state_signal, _items(body, "current_states"))}
    if "admissible_commands" in body:
        signals.add("implement")
    return _decided(signals - {None})  # type: ignore[arg-type]


_OURS = frozenset({"observation", "frame", "other_receptacles"})
_THEIRS = frozenset({"new_frame", "other_visible_receptacles"})


def perception_form(body: Any) -> Form | None:
    """The form of a `/perception` body, from its samples' keys and states."""
    if isinstance(body, BaseModel):
        return "reference" if isinstance(body, ReferencePerceptionRequest) else "implement"
    if not isinstance(body, Mapping):
        return None
    signals: set[Form] = set()
    for sample in _items(body, "samples"):
        if isinstance(sample, Mapping):
            signals |= {"implement"} if _OURS & set(sample) else set()
            signals |= {"reference"} if _THEIRS & set(sample) else set()
            signals |= {_state_signal(sample.get("old_state"))} - {None}  # type: ignore[arg-type]
    return _decided(signals)


__all__ = [
    "NEITHER_FORM",
    "ReferencePerceptionRequest",
    "ReferencePerceptionSample",
    "ReferencePolicyRequest",
    "parse_history_line",
    "perception_form",
    "policy_form",
    "task_type_of",
]
