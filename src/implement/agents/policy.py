"""The policy's side of policy iteration: what it is shown each round and how it answers.

Each round the policy sees the goal, the executed actions (with success), the current
symbolic state, the admissible commands and every action evaluated so far with its
belief. It either picks one evaluated action (`choice`; the paper's help = false) or
proposes new actions to imagine (`proposals`; help = true). In the last round, or
without imagination, it must choose.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from implement.agents.belief import Belief
from implement.state import SymbolicState


@dataclass
class PolicyView:
    """Everything the policy may look at in one round."""

    goal: str
    task_type: str
    state: SymbolicState
    history: list[tuple[str, bool]]  # executed actions and whether each succeeded
    admissible: tuple[str, ...]
    evaluated: dict[str, Belief]  # in the order they were imagined
    round: int
    final: bool  # choose now: an evaluated action (or any admissible one without imagination)
    imagination: bool = True


@dataclass
class PolicyReply:
    """A choice to execute, or actions to imagine first."""

    choice: str | None = None
    proposals: list[str] = field(default_factory=list)
    reasoning: str = ""
    parse_errors: list[str] = field(default_factory=list)  # LLM answers that did not parse

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Policy(Protocol):
    """Decides one round of policy iteration; `reset` at the start of each episode."""

    name: str

    def reset(self, goal: str, task_type: str) -> None: ...

    async def decide(self, view: PolicyView) -> PolicyReply: ...


__all__ = ["Policy", "PolicyReply", "PolicyView"]
