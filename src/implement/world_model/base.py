"""The world-model contract, and what makes an action information-gathering.

A world model works in two modes: perception (`perceive`: the state after an action,
given what came back, one `Perceived` record) and prediction (`predict`: imagined states
after an action, `n` Monte Carlo samples where the outcome is uncertain), conditioned on
what earlier trials of the same task showed (MetaICL `Conditions`, in `implement.metaicl`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from implement.envs.commands import parse_command
from implement.errors import ImplementError
from implement.state import OPENABLE_TYPES, SymbolicState, receptacle_type
from implement.world_model.perception import receptacles_in

if TYPE_CHECKING:  # implement.metaicl uses this module's helpers
    from implement.metaicl import Conditions


class UnreadableInputError(ImplementError):
    """A world model was given a perception input it cannot read (a frame, for a text-only model)."""


@dataclass(frozen=True)
class Perceived:
    """What perception reads after an action: the command run and what came back.

    `frame` is an image URL (http(s), or a `data:image/...;base64,` URL) of the view after
    the action; `visible` names the other receptacles in view (None: those the state and
    the text name); `succeeded` is the environment's or the client's word on the action
    (None: read from the text, where "Nothing happens." is a failure).
    """

    action: str
    observation: str = ""
    frame: str | None = None
    visible: tuple[str, ...] | None = None
    succeeded: bool | None = None

    @property
    def success(self) -> bool:
        """`succeeded`, else what the text says."""
        if self.succeeded is not None:
            return self.succeeded
        return not self.observation.strip().startswith("Nothing happens")


def require_text(model: str, seen: Perceived) -> None:
    """Refuse a frame: the world model `model` reads text observations only."""
    if seen.frame is not None:
        raise UnreadableInputError(f"the world model {model} reads text observations, not frames")


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

    async def perceive(self, prev: SymbolicState, seen: Perceived) -> SymbolicState:
        """The state after `seen.action`, given what came back (an action that failed changes nothing).

        A model that cannot read part of `seen` (a frame) raises `UnreadableInputError`.
        """
        ...

    async def predict(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]:
        """Imagined states after `action`: `n` samples where the outcome is uncertain, else one."""
        ...
