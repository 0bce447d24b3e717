"""Reference agents: `expert` (the walkthrough, an upper bound) and `random` (uniform over admissible)."""

from __future__ import annotations

import random
from collections.abc import Callable

from implement.agents.base import Decision, EpisodeOutcome, TaskMemory
from implement.envs.base import Observation, Task
from implement.errors import AgentError


class ExpertAgent:
    """Replays the game's walkthrough. Privileged by design: the upper bound and a check of the loop."""

    name = "expert"

    def __init__(self, walkthrough_of: Callable[[str], list[str]]) -> None:
        self._walkthrough_of = walkthrough_of
        self._plan: list[str] | None = None

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._plan = list(self._walkthrough_of(task.game_id))

    async def act(self, observation: Observation) -> Decision:
        if self._plan is None:
            raise AgentError("act() before reset()")
        if observation.step >= len(self._plan):
            return Decision("look", reasoning="walkthrough exhausted")
        return Decision(self._plan[observation.step], reasoning="walkthrough")

    def finish(self, outcome: EpisodeOutcome) -> None:
        pass


class RandomAgent:
    """Picks uniformly among the admissible commands, seeded per (seed, game, trial)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng: random.Random | None = None

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._rng = random.Random(f"{self._seed}:{task.game_id}:{memory.trial}")

    async def act(self, observation: Observation) -> Decision:
        if self._rng is None:
            raise AgentError("act() before reset()")
        return Decision(self._rng.choice(observation.admissible_commands), reasoning="uniform")

    def finish(self, outcome: EpisodeOutcome) -> None:
        pass
