"""Which MetaICL conditions a prediction is shown: at test time (15 + 15), and in training samples.

Test time (as the paper): up to `max_object_lists` object lists and up to
`max_failed_actions` failed actions drawn at random (seeded), plus every one relevant to
the action's target receptacle, the agent's location or the held object. Object lists are
given only for information-gathering actions (going to or opening an unvisited receptacle).

Training (`implement prepare`): each sample carries a random subset of its game's
conditions, of a size drawn uniformly from 0 to all, so the model learns to use them when
they are there and to imagine without them; object lists again only for
information-gathering actions.
"""

from __future__ import annotations

import random
from typing import TypeVar

from implement.metaicl.records import Conditions, FailedAction
from implement.state import NOTHING, SymbolicState, base_name, object_type
from implement.world_model.base import action_target, is_information_gathering

T = TypeVar("T")


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


def training_subset(
    conditions: Conditions, *, information_gathering: bool, rng: random.Random
) -> tuple[list[str], list[int]]:
    """A training sample's random conditions: object-list receptacles and failed-action indices.

    Object lists only for an information-gathering action (then drawn first, from `rng`).
    """
    object_lists = _random_subset(list(conditions.object_lists), rng) if information_gathering else []
    return object_lists, _random_subset(list(range(len(conditions.failed_actions))), rng)


def _random_subset(items: list[T], rng: random.Random) -> list[T]:
    """A random subset of a size drawn uniformly from 0 to all, in stored order."""
    chosen = set(rng.sample(range(len(items)), rng.randint(0, len(items))))
    return [x for i, x in enumerate(items) if i in chosen]
