"""The agent contracts: told a task and its memory, an `Agent` answers each observation with a
decision; a `StatelessAgent` also decides from a state perceived elsewhere (the API server's)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from implement.envs.base import Observation, Task
from implement.llm.base import usage_ledger
from implement.state import SymbolicState


@dataclass
class TaskMemory:
    """What an agent keeps about one game from trial to trial (MetaICL conditions, reflections...).

    The runner saves it after every episode and gives it back in the next trial of the
    same game, also after `--resume`; it never crosses to another game.
    """

    game_id: str
    trial: int = 1  # the trial about to be played, set by the runner
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"game_id": self.game_id, "trial": self.trial, "data": self.data}


@dataclass
class Decision:
    """One action with the reasons and records behind it."""

    action: str
    reasoning: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # proposals, predictions, beliefs...
    usage: dict[str, float] = field(default_factory=dict)  # calls, tokens, cost, latency

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reasoning": self.reasoning,
            "details": self.details,
            "usage": self.usage,
        }


# What `metered` records in every decision of an agent that calls LLMs.
USAGE_KEYS = ("llm_calls", "prompt_tokens", "completion_tokens", "cost", "llm_seconds", "seconds")


async def metered(step: Awaitable[Decision]) -> Decision:
    """Await one step's decision and add what it alone spent: LLM calls, tokens, cost, seconds."""
    started = time.perf_counter()
    with usage_ledger() as spent:
        decision = await step
    decision.usage.update(
        llm_calls=spent.requests, prompt_tokens=spent.prompt_tokens,
        completion_tokens=spent.completion_tokens, cost=spent.cost, llm_seconds=spent.latency,
        seconds=time.perf_counter() - started,
    )  # fmt: skip
    return decision


@dataclass(frozen=True)
class EpisodeOutcome:
    """What an agent is told when an episode ends, to update its memory."""

    won: bool
    steps: int
    actions: tuple[str, ...]
    failed_actions: tuple[str, ...]


class Agent(Protocol):
    """`reset` at the start of each episode, `act` once per step, `finish` at its end."""

    name: str

    def reset(self, task: Task, memory: TaskMemory) -> None: ...

    async def act(self, observation: Observation) -> Decision: ...

    def finish(self, outcome: EpisodeOutcome) -> None: ...


@runtime_checkable
class StatelessAgent(Agent, Protocol):
    """An `Agent` that continues an episode from a state and history kept by someone else.

    After `reset`, `restore` sets the current state and the steps taken so far (command,
    succeeded), and `choose` decides the next action from them without perceiving first.
    """

    def restore(self, state: SymbolicState, history: Sequence[tuple[str, bool]]) -> None: ...

    async def choose(self, admissible: Sequence[str]) -> Decision: ...
