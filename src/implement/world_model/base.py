"""The world-model contract, and what makes an action information-gathering.

A world model works in two modes: perception (`perceive`: the state after an action,
given what the environment answered) and prediction (`predict`: imagined states after an
action, `n` Monte Carlo samples where the outcome is uncertain), conditioned on what
earlier trials of the same task showed (MetaICL `Conditions`, in `implement.metaicl`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from implement.envs.commands import parse_command
from implement.state import OPENABLE_TYPES, SymbolicState, receptacle_type
from implement.world_model.perception import receptacles_in

if TYPE_CHECKING:  # implement.metaicl uses this module's helpers
    from implement.metaicl import Conditions


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
