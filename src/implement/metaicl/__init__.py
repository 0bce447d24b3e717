"""MetaICL: in-context conditioning of the world model on earlier trials of the same task.

Condition 1 is the object lists seen per receptacle, condition 2 the failed actions with
their context. `records` holds them (`Conditions`, `FailedAction`), `collect` gathers them
from trajectories and merges trials, `select` picks what one prediction is shown (15 + 15
at test time, random subsets in training samples), `memory` keeps them in a task's
`TaskMemory.data`, and `store` is their on-disk format (`object_lists.json`,
`failed_actions.json`) and their extraction from evaluation runs.
"""

from __future__ import annotations

from implement.metaicl.collect import Step, TransitionLike, collect_conditions, merge_conditions
from implement.metaicl.memory import MEMORY_KEY, conditions_from_memory, remember_trajectory, store_conditions
from implement.metaicl.records import Conditions, FailedAction
from implement.metaicl.select import select_conditions, training_subset
from implement.metaicl.store import (
    FAILED_ACTIONS_FILE,
    OBJECT_LISTS_FILE,
    extract_conditions,
    read_conditions,
    write_conditions,
)

__all__ = [
    "FAILED_ACTIONS_FILE",
    "MEMORY_KEY",
    "OBJECT_LISTS_FILE",
    "Conditions",
    "FailedAction",
    "Step",
    "TransitionLike",
    "collect_conditions",
    "conditions_from_memory",
    "extract_conditions",
    "merge_conditions",
    "read_conditions",
    "remember_trajectory",
    "select_conditions",
    "store_conditions",
    "training_subset",
    "write_conditions",
]
