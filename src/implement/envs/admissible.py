"""The commands ALFWorld would admit in a symbolic state, where no engine is there to list them.

An `Observation` carries the engine's `admissible_commands`; a client that keeps only a
symbolic state (an API request in the reference's form) sends none. This module derives
them: it lives with the env's command grammar because it answers the env's question, and it
judges each candidate with the symbolic world model's rule engine (`RULES`), the one home of
the PDDL preconditions, so that the two never disagree on what a state allows.

Candidates are what the state names near the agent: every receptacle but the current one
to go to; the receptacles at the agent's spot to open, close and examine, their objects to
take, the held object to move, heat, cool or clean with them; the objects there to use or
slice with the held knife; the held object to examine; look, inventory and help.
The engine's own list differs only where the state cannot tell (checked against the engine
in `tests/envs/test_admissible.py`):

- objects never seen (in a receptacle the agent has not looked into) have no commands;
- receptacles sharing the agent's spot are known only for rooms of the fitted train games
  (`PlacementCounts.neighbours`); elsewhere only the agent's own receptacle is in reach;
- object properties (pickupable, heatable, ...) and what a receptacle type can contain are
  the fitted counts' view of the object's type, not the game's facts about that instance.
"""

from __future__ import annotations

import functools

from implement.envs.commands import Command, Verb, format_command
from implement.state import SymbolicState, base_name
from implement.world_model.symbolic import SymbolicWorldModel
from implement.world_model.symbolic.placements import PlacementCounts
from implement.world_model.symbolic.rules import RULES, Scene

_WITH_HELD: tuple[Verb, ...] = ("move", "heat", "cool", "clean")


@functools.cache
def _packaged_counts() -> PlacementCounts:
    return SymbolicWorldModel.default().counts


def type_facts(world_model: object = None) -> PlacementCounts:
    """What the derived commands know of ALFWorld's types: a symbolic world model's own fitted
    counts, else those shipped with the package (the train split's, loaded once)."""
    return world_model.counts if isinstance(world_model, SymbolicWorldModel) else _packaged_counts()


def derive_admissible_commands(state: SymbolicState, counts: PlacementCounts) -> tuple[str, ...]:
    """The commands the engine would admit in `state` (sorted), as far as the state determines them.

    `counts` are the symbolic world model's fitted facts of ALFWorld's object and receptacle
    types (`SymbolicWorldModel.default().counts`: the train split's).
    """
    scene = Scene(state, counts)
    held = state.holding
    candidates = [Command("look"), Command("inventory"), Command("help")]
    candidates += [Command("go to", receptacle=r) for r in state.world_state if r != state.agent_location]
    for name, receptacle in state.world_state.items():
        if name not in scene.reachable:
            continue
        candidates += [Command("open", receptacle=name), Command("close", receptacle=name)]
        candidates.append(Command("examine", object=name))
        candidates += [Command("take", object=base_name(o), receptacle=name) for o in receptacle.objects]
        if held is not None:
            candidates += [Command(verb, object=held, receptacle=name) for verb in _WITH_HELD]
    around = sorted(scene.here(closed_too=True))
    candidates += [Command("use", object=o) for o in around]
    if held is not None:
        candidates.append(Command("examine", object=held))
        candidates += [Command("slice", object=o, tool=held) for o in around]
    return tuple(sorted({format_command(c) for c in candidates if RULES[c.verb].applies(scene, c)}))


__all__ = ["derive_admissible_commands", "type_facts"]
