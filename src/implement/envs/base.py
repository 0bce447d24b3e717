"""The environment contract: what an agent is told (`Task`, `Observation`) and what the runner plays (`Env`).

No third-party imports: agents, world models and the API depend on this module, never on the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from implement.envs.games import Game


@dataclass(frozen=True)
class Task:
    """What an agent is told about a game: never its walkthrough or its true facts."""

    game_id: str
    task_type: str
    goal: str


@dataclass(frozen=True)
class Observation:
    """What the environment says after a reset (step 0) or a step."""

    text: str
    admissible_commands: tuple[str, ...]
    step: int
    won: bool = False
    done: bool = False
    action: str | None = None  # the engine command that was run
    raw_action: str | None = None  # what the agent wrote
    succeeded: bool = True  # False when the engine answered "Nothing happens."

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "admissible_commands": list(self.admissible_commands),
            "step": self.step,
            "won": self.won,
            "done": self.done,
            "action": self.action,
            "raw_action": self.raw_action,
            "succeeded": self.succeeded,
        }


class Env(Protocol):
    """One text game at a time: `reset` starts an episode of a game, `step` runs one command.

    `reset` returns the task and the step-0 observation; `step` returns the next observation,
    `done` once the episode is won or out of steps (a step after that raises `EnvError`).
    Privileged knowledge (walkthroughs, true facts) is no part of it.
    """

    def reset(self, game: Game) -> tuple[Task, Observation]: ...

    def step(self, action: str) -> Observation: ...
