"""The world-model contract, MetaICL conditions, and what makes an action information-gathering.

A world model works in two modes: perception (`perceive`: the state after an action,
given what the environment answered) and prediction (`predict`: imagined states after an
action, `n` Monte Carlo samples where the outcome is uncertain). MetaICL `Conditions`
carry what earlier trials of the same task showed: the objects seen in each receptacle
(condition 1) and the actions that failed, with their context (condition 2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from implement.envs.commands import parse_command
from implement.state import OPENABLE_TYPES, SymbolicState, receptacle_type, receptacles_in


@dataclass(frozen=True)
class FailedAction:
    """Condition 2: an action that failed, and the context it failed in."""

    action: str
    agent_location: str
    inventory: str
    target_state: dict[str, Any] | None = None  # the target receptacle's state then, if any


@dataclass
class Conditions:
    """MetaICL conditions of one task, gathered over its earlier trials."""

    object_lists: dict[str, list[str]] = field(default_factory=dict)  # receptacle -> object types seen there
    failed_actions: list[FailedAction] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"object_lists": self.object_lists, "failed_actions": [asdict(f) for f in self.failed_actions]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conditions:
        return cls(
            object_lists={str(k): list(v) for k, v in data.get("object_lists", {}).items()},
            failed_actions=[FailedAction(**f) for f in data.get("failed_actions", [])],
        )


def action_target(action: str) -> str | None:
    """The receptacle an action is about: 'go to fridge 1' -> 'fridge 1', 'take a from b' -> 'b'.

    Without one, the knife of `slice` or the thing used or examined (`Command.target`).
    """
    command = parse_command(action)
    return command.target if command is not None else None


def visible_receptacles(prev: SymbolicState, action: str, observation: str) -> list[str]:
    """Other receptacles a perception input names: the known ones and those the text names."""
    target = action_target(action)
    names = [*prev.world_state, *receptacles_in(observation)]
    return [n for n in dict.fromkeys(names) if n != target]


def is_information_gathering(state: SymbolicState, action: str) -> bool:
    """Going to a receptacle not yet visited, or opening one whose inside was never seen."""
    command = parse_command(action)
    if command is None or command.receptacle is None:
        return False
    if command.verb == "go to":
        return not state.receptacle(command.receptacle).visited
    if command.verb == "open":
        target = state.receptacle(command.receptacle)
        return not target.visited or (target.open is False and not target.objects)
    return False


def closed_unvisited_target(state: SymbolicState, action: str) -> str | None:
    """The receptacle of `go to X` when X opens, is closed and was never visited (its inside is unknown)."""
    command = parse_command(action)
    if command is None or command.verb != "go to" or command.receptacle is None:
        return None
    target = command.receptacle
    if receptacle_type(target) not in OPENABLE_TYPES:
        return None
    rec = state.receptacle(target)
    return target if not rec.visited and rec.open is False else None


class WorldModel(Protocol):
    """Perception and prediction over the paper's symbolic state."""

    name: str

    async def perceive(self, prev: SymbolicState, action: str, observation: str) -> SymbolicState: ...

    async def predict(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]: ...
