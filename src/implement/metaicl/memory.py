"""A task's MetaICL conditions across trials, kept in its `TaskMemory.data` dict (as JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from implement.metaicl.collect import Step, TransitionLike, collect_conditions, merge_conditions
from implement.metaicl.records import Conditions

MEMORY_KEY = "metaicl_conditions"


def conditions_from_memory(data: Mapping[str, Any]) -> Conditions:
    """The conditions kept in a `TaskMemory.data` dict (empty ones if none yet)."""
    stored = data.get(MEMORY_KEY)
    return Conditions.from_dict(dict(stored)) if isinstance(stored, Mapping) else Conditions()


def store_conditions(data: MutableMapping[str, Any], conditions: Conditions) -> None:
    """Keep `conditions` in a `TaskMemory.data` dict (JSON), replacing what was there."""
    data[MEMORY_KEY] = conditions.to_dict()


def remember_trajectory(
    data: MutableMapping[str, Any], trajectory: Iterable[Step | TransitionLike]
) -> Conditions:
    """Merge one finished trial's conditions into a `TaskMemory.data` dict; returns the merged ones."""
    merged = merge_conditions(conditions_from_memory(data), collect_conditions(trajectory))
    store_conditions(data, merged)
    return merged
