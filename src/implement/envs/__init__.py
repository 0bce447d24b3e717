"""ALFWorld environments: game files, the cached TextWorld engine, command normalization."""

from __future__ import annotations

from implement.envs.alfworld import AlfworldEnv, Observation, Task
from implement.envs.games import TASK_TYPES, Game, find_games

__all__ = ["TASK_TYPES", "AlfworldEnv", "Game", "Observation", "Task", "find_games"]
