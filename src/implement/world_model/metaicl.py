"""MetaICL conditions: collected from a trial's trajectory, merged per task, selected per action.

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

Selection for one prediction (as the paper): up to `max_object_lists` object lists and up
to `max_failed_actions` failed actions drawn at random (seeded), plus every one relevant to
the action's target receptacle, the agent's location or the held object. Object lists are
given only for information-gathering actions (going to or opening an unvisited receptacle).

Across trials the conditions live in `TaskMemory.data[MEMORY_KEY]` (JSON):
`conditions_from_memory`, `store_conditions` and `remember_trajectory`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Protocol, TypeVar

from implement.prompts.world_model import format_conditions
from implement.state import NOTHING, SymbolicState, base_name, object_type
from implement.world_model.base import Conditions, FailedAction, action_target, is_information_gathering

MEMORY_KEY = "metaicl_conditions"
T = TypeVar("T")

__all__ = [
    "MEMORY_KEY",
    "Step",
    "collect_conditions",
    "conditions_from_memory",
    "format_conditions",
    "merge_conditions",
    "remember_trajectory",
    "select_conditions",
    "store_conditions",
]


class _TransitionLike(Protocol):
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


def _unpack(step: Step | _TransitionLike) -> Step:
    if isinstance(step, tuple):
        return step
    return step.before, step.action, step.succeeded, step.after


def _seen_inside(state: SymbolicState, receptacle: str) -> bool:
    rec = state.world_state.get(receptacle)
    return rec is not None and rec.visited and rec.open is not False


def collect_conditions(trajectory: Iterable[Step | _TransitionLike]) -> Conditions:
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


def select_conditions(
    conditions: Conditions | None,
    state: SymbolicState,
    action: str,
    *,
    max_object_lists: int = 15,
    max_failed_actions: int = 15,
    rng: random.Random | int | str = 0,
) -> Conditions:
    """The conditions shown for predicting `action` from `state` (see the module's notes).

    Relevant ones come first, in their stored order, then the random draw in stored order.
    """
    if conditions is None:
        return Conditions()
    if max_object_lists < 0 or max_failed_actions < 0:
        raise ValueError(f"maxima must be >= 0, got {max_object_lists} and {max_failed_actions}")
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    target = action_target(action)
    places = {p for p in (target, state.agent_location) if p is not None}
    held = state.holding
    held_type = object_type(held) if held is not None else None

    object_lists: dict[str, list[str]] = {}
    if is_information_gathering(state, action):
        names = list(conditions.object_lists)
        relevant = [n for n in names if n in places or held_type in conditions.object_lists[n]]
        chosen = _pick(names, relevant, max_object_lists, rng)
        object_lists = {n: list(conditions.object_lists[n]) for n in chosen}

    def relevant_failure(f: FailedAction) -> bool:
        if action_target(f.action) in places or f.agent_location in places:
            return True
        return held is not None and f.inventory != NOTHING and base_name(f.inventory) == held

    indices = list(range(len(conditions.failed_actions)))
    relevant_idx = [i for i in indices if relevant_failure(conditions.failed_actions[i])]
    picked = _pick(indices, relevant_idx, max_failed_actions, rng)
    return Conditions(
        object_lists=object_lists, failed_actions=[conditions.failed_actions[i] for i in picked]
    )


def _pick(items: list[T], relevant: list[T], limit: int, rng: random.Random) -> list[T]:
    rest = [x for x in items if x not in relevant]
    drawn = set(rng.sample(range(len(rest)), min(limit, len(rest))))
    return [*relevant, *(x for i, x in enumerate(rest) if i in drawn)]


# ---------------------------------------------------------------- TaskMemory.data


def conditions_from_memory(data: Mapping[str, Any]) -> Conditions:
    """The conditions kept in a `TaskMemory.data` dict (empty ones if none yet)."""
    stored = data.get(MEMORY_KEY)
    return Conditions.from_dict(dict(stored)) if isinstance(stored, Mapping) else Conditions()


def store_conditions(data: MutableMapping[str, Any], conditions: Conditions) -> None:
    """Keep `conditions` in a `TaskMemory.data` dict (JSON), replacing what was there."""
    data[MEMORY_KEY] = conditions.to_dict()


def remember_trajectory(
    data: MutableMapping[str, Any], trajectory: Iterable[Step | _TransitionLike]
) -> Conditions:
    """Merge one finished trial's conditions into a `TaskMemory.data` dict; returns the merged ones."""
    merged = merge_conditions(conditions_from_memory(data), collect_conditions(trajectory))
    store_conditions(data, merged)
    return merged
