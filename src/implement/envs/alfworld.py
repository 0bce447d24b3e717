"""`AlfworldEnv`: one ALFWorld text game at a time, with cheap resets and forgiving commands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from implement.envs.base import Observation, Task
from implement.envs.commands import normalize_command
from implement.envs.engine import ENGINE_LOCK, TranslationCache, default_cache_dir, make_engine
from implement.envs.games import Game
from implement.errors import EnvError

NOTHING_HAPPENS = "Nothing happens."
_GOAL = re.compile(r"Your task is to:\s*(.+?)\s*$", re.DOTALL)

_shared_translations: dict[Path | None, TranslationCache] = {}


def shared_translations(cache_dir: Path | None) -> TranslationCache:
    """One translation cache per disk folder for the whole process, shared by all envs."""
    if cache_dir not in _shared_translations:
        _shared_translations[cache_dir] = TranslationCache(cache_dir)
    return _shared_translations[cache_dir]


@dataclass
class AlfworldEnv:
    """An ALFWorld game on TextWorld's PDDL engine (an `Env`).

    `reset(game)` loads the game (once; later resets of the same game cost milliseconds)
    and returns the task and the first observation; `step(action)` runs one command.
    An episode is done when it is won or after `max_steps` steps. With `privileged=True`
    the engine also tracks the true facts (`true_facts()`): for tests and data collection,
    never for an agent under evaluation.
    """

    max_steps: int = 30
    privileged: bool = False
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    translations: TranslationCache | None = None  # default: the process-wide cache of `cache_dir`
    game: Game | None = field(default=None, init=False)
    _engine: Any = field(default=None, init=False, repr=False)
    _last: Observation | None = field(default=None, init=False, repr=False)
    _state: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise EnvError(f"max_steps must be at least 1, got {self.max_steps}")
        translations = self.translations or shared_translations(self.cache_dir)
        self._engine = make_engine(translations, facts=self.privileged)

    def reset(self, game: Game | Path | str) -> tuple[Task, Observation]:
        self.game = game if isinstance(game, Game) else Game.from_path(Path(game))
        with ENGINE_LOCK:
            self._engine.load(str(self.game.path))
            self._state = self._engine.reset()
        text = self._state["feedback"]
        match = _GOAL.search(text)
        if not match:
            raise EnvError(f"{self.game.path}: the intro names no task ('Your task is to: ...')")
        task = Task(game_id=self.game.id, task_type=self.game.task_type, goal=match.group(1))
        self._last = Observation(text=text, admissible_commands=self._admissible(), step=0)
        return task, self._last

    def step(self, action: str) -> Observation:
        if self._last is None:
            raise EnvError("step() before reset()")
        if self._last.done:
            raise EnvError("step() after the episode is done; call reset()")
        command = normalize_command(action, self._last.admissible_commands)
        with ENGINE_LOCK:
            self._state, _, _ = self._engine.step(command)
        text = self._state["feedback"].strip()
        won = bool(self._state["won"])
        step = self._last.step + 1
        self._last = Observation(
            text=text,
            admissible_commands=self._admissible(),
            step=step,
            won=won,
            done=won or step >= self.max_steps,
            action=command,
            raw_action=action,
            succeeded=text != NOTHING_HAPPENS,
        )
        return self._last

    @property
    def last_observation(self) -> Observation | None:
        return self._last

    def true_facts(self) -> list[Any]:
        """The engine's true facts (TextWorld propositions with readable names). Privileged."""
        if not self.privileged:
            raise EnvError("true facts are privileged: create the env with privileged=True")
        if self._state is None:
            raise EnvError("true_facts() before reset()")
        return list(self._state["facts"])

    def true_contents(self) -> dict[str, list[str]]:
        """Receptacle -> the objects truly in or on it, from the true facts. Privileged."""
        found: dict[str, list[str]] = {}
        for fact in self.true_facts():
            if fact.name == "inreceptacle":
                obj, receptacle = (v.name for v in fact.arguments)
                found.setdefault(receptacle, []).append(obj)
        return found

    def _admissible(self) -> tuple[str, ...]:
        return tuple(self._state["admissible_commands"])
