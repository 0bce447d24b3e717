"""MetaICL conditions collected from one trial's trajectory, and merged over a task's trials.

Condition 1 (object lists): for every receptacle the agent saw inside, the object types it
held at the first sight of a trial (types only, no numbers: "apple 1" -> "apple"; repeats
kept, so two apples read "apple, apple"). The first sight is the room as the game placed it,
before the agent moved things around. A receptacle counts as seen inside once it is visited
and not closed (a closed one shows nothing until opened).

Condition 2 (failed actions): every action that failed, with the agent's location, its
inventory, and the state of the action's target receptacle just before it.

Merging across trials of one task: the newest object list of a receptacle replaces the
older one (the placement is the same in every trial); failed actions are appended, without
duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Protocol

from implement.metaicl.records import Conditions, FailedAction
from implement.state import SymbolicState, object_type
from implement.world_model.base import action_target


class TransitionLike(Protocol):
    """A step given as an object: the state before, the action, whether it succeeded, the state after."""

    @property
    def before(self) -> SymbolicState: ...
    @property
    def action(self) -> str: ...
    @property
    def succeeded(self) -> bool: ...
    @property
    def after(self) -> SymbolicState: ...


# (state before, action, succeeded, state after); objects with these attributes work too
Step = tuple[SymbolicState, str, bool, SymbolicState]


def _unpack(step: Step | TransitionLike) -> Step:
    if isinstance(step, tuple):
        return step
    return step.before, step.action, step.succeeded, step.after


def _seen_inside(state: SymbolicState, receptacle: str) -> bool:
    rec = state.world_state.get(receptacle)
    return rec is not None and rec.visited and rec.open is not False


def collect_conditions(trajectory: Iterable[Step | TransitionLike]) -> Conditions:
    """The conditions one trial's trajectory shows."""
    object_lists: dict[str, list[str]] = {}
    failed: list[FailedAction] = []
    first = True
    for step in trajectory:
        before, action, succeeded, after = _unpack(step)
        states = (before, after) if first else (after,)
        first = False
        for state in states:
            for name, rec in state.world_state.items():
                if name not in object_lists and _seen_inside(state, name):
                    object_lists[name] = [object_type(o) for o in rec.objects]
        if not succeeded:
            target = action_target(action)
            failed.append(
                FailedAction(
                    action=action,
                    agent_location=before.agent_location,
                    inventory=before.inventory,
                    target_state=before.receptacle(target).to_dict() if target is not None else None,
                )
            )
    return Conditions(object_lists=object_lists, failed_actions=_unique(failed))


def merge_conditions(*conditions: Conditions) -> Conditions:
    """Conditions of several trials of one task, oldest first (see the module's notes)."""
    object_lists: dict[str, list[str]] = {}
    failed: list[FailedAction] = []
    for c in conditions:
        object_lists.update({name: list(types) for name, types in c.object_lists.items()})
        failed.extend(c.failed_actions)
    return Conditions(object_lists=object_lists, failed_actions=_unique(failed))


def _unique(failed: Iterable[FailedAction]) -> list[FailedAction]:
    seen: set[str] = set()
    kept = []
    for f in failed:
        key = json.dumps([f.action, f.agent_location, f.inventory, f.target_state], sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(f)
    return kept
