"""ALFWorld environments: game files, the cached TextWorld engine, the command grammar.

The names below are imported on first use, so that `implement.envs.commands` and
`implement.envs.games` load without TextWorld.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from implement.envs.alfworld import AlfworldEnv, Observation, Task
    from implement.envs.games import TASK_TYPES, Game, find_games

_HOMES = {
    "AlfworldEnv": "implement.envs.alfworld",
    "Observation": "implement.envs.alfworld",
    "Task": "implement.envs.alfworld",
    "TASK_TYPES": "implement.envs.games",
    "Game": "implement.envs.games",
    "find_games": "implement.envs.games",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


__all__ = ["TASK_TYPES", "AlfworldEnv", "Game", "Observation", "Task", "find_games"]
