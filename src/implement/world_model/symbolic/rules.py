"""The rule engine: what ALFWorld's text engine prints for a command on a symbolic state.

Each verb of the command grammar has a `Rule`: its precondition, decided from the PDDL
domain's on what the state knows, and the feedback the engine prints when it holds. A
command whose precondition fails, or text that is no command, gets "Nothing happens.".
The effect of a command is its feedback read by the text parser (`update_state`), so a
prediction follows the parser's conventions exactly.

Reach: the agent acts on the receptacles at its spot, its own and those the fitted
layouts put there (`PlacementCounts.neighbours`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from implement.envs.commands import APPLIANCES, Command, Treatment, Verb, parse_command
from implement.state import SymbolicState, base_name, object_states, object_type, receptacle_type
from implement.world_model.symbolic.placements import PlacementCounts

KNIFE_TYPES = frozenset({"knife", "butterknife"})
NOTHING_HAPPENS = "Nothing happens."
_TREATABLE: dict[Treatment, str] = {
    "heat": "heatable",
    "cool": "coolable",
    "clean": "cleanable",
}  # verb -> object property
_INSTANCE = re.compile(r"^(?P<t>.+) (?P<n>\d+)$")


def split_instance(name: str) -> tuple[str, int] | None:
    """'apple 2' -> ('apple', 2); None for a name without a number."""
    match = _INSTANCE.match(name)
    return (match.group("t"), int(match.group("n"))) if match else None


@dataclass(frozen=True)
class Scene:
    """What the rules look at: the state, the fitted counts, and the unseen contents to show."""

    state: SymbolicState
    counts: PlacementCounts
    imagined: tuple[str, ...] = ()

    @cached_property
    def reachable(self) -> set[str]:
        """The agent's receptacle and those the fitted layouts put at the same spot."""
        here = self.state.agent_location
        pairs = self.counts.neighbours(self.state.world_state)
        return {here} | {r for pair in pairs if here in pair for r in pair}

    def here(self, *, closed_too: bool = False) -> set[str]:
        """Objects the agent can reach: in or on the receptacles at its spot."""
        found: set[str] = set()
        for name in self.reachable:
            rec = self.state.world_state.get(name)
            if rec is not None and (rec.open is not False or closed_too):
                found |= _bases(rec.objects)
        return found

    def view(self, name: str, imagined: tuple[str, ...]) -> str:
        """What the engine shows of a receptacle on arrival or examination."""
        rec = self.state.receptacle(name)
        if rec.open is False:
            return f"The {name} is closed."
        contents = self.listing((*rec.objects, *imagined))
        if rec.open is True:
            return f"The {name} is open. In it, you see {contents}."
        return f"On the {name}, you see {contents}."

    def listing(self, objects: Iterable[str]) -> str:
        """The engine's list of objects: sorted by PDDL id, i.e. by PDDL type name, then number descending."""

        def key(name: str) -> tuple[str, int]:
            kind, number = split_instance(name) or (name, 0)
            return self.counts.type_names.get(kind, kind) + "_bar_", -number

        return _listing(sorted((base_name(o) for o in objects), key=key))


@dataclass(frozen=True)
class Rule:
    """A verb's precondition (`applies`) and the engine's feedback when it holds (`says`)."""

    applies: Callable[[Scene, Command], bool]
    says: Callable[[Scene, Command], str]


def feedback(scene: Scene, action: str) -> str:
    """What ALFWorld's engine would print for `action` (a cleaned command) in `scene`."""
    command = parse_command(action)
    if command is None:
        return NOTHING_HAPPENS
    rule = RULES[command.verb]
    return rule.says(scene, command) if rule.applies(scene, command) else NOTHING_HAPPENS


# ---------------------------------------------------------------- the command's names


def _rec(command: Command) -> str:
    assert command.receptacle is not None, command  # a Command has every name its verb needs
    return command.receptacle


def _obj(command: Command) -> str:
    assert command.object is not None, command
    return command.object


def _tool(command: Command) -> str:
    assert command.tool is not None, command
    return command.tool


# ---------------------------------------------------------------- the rules


def _always(scene: Scene, command: Command) -> bool:
    return True


def _can_go(scene: Scene, command: Command) -> bool:
    """A known receptacle other than where the agent is (going where it is: "Nothing happens.")."""
    return _rec(command) in scene.state.world_state and _rec(command) != scene.state.agent_location


def _arrive(scene: Scene, command: Command) -> str:
    name = _rec(command)
    return f"You arrive at {name}. {scene.view(name, scene.imagined)}"


def _can_open(scene: Scene, command: Command) -> bool:
    name = _rec(command)
    return name in scene.reachable and scene.state.receptacle(name).open is False


def _opened(scene: Scene, command: Command) -> str:
    name = _rec(command)
    contents = scene.listing((*scene.state.receptacle(name).objects, *scene.imagined))
    return f"You open the {name}. The {name} is open. In it, you see {contents}."


def _can_close(scene: Scene, command: Command) -> bool:
    name = _rec(command)
    return name in scene.reachable and scene.state.receptacle(name).open is True


def _can_take(scene: Scene, command: Command) -> bool:
    obj, name = _obj(command), _rec(command)
    rec = scene.state.receptacle(name)
    pickable = obj in _bases(rec.objects) and scene.counts.has("pickupable", object_type(obj))
    return name in scene.reachable and scene.state.holding is None and rec.open is not False and pickable


def _can_move(scene: Scene, command: Command) -> bool:
    obj, name = _obj(command), _rec(command)
    return (
        name in scene.reachable
        and scene.state.holding == obj
        and scene.state.receptacle(name).open is not False
        and name in scene.state.world_state
        and scene.counts.can_hold(receptacle_type(name), object_type(obj))
    )


def _treatment(verb: Treatment) -> Rule:
    """Heat, cool or clean: the held object, if it can be, with the verb's appliance within reach."""
    appliance, prop = APPLIANCES[verb], _TREATABLE[verb]

    def applies(scene: Scene, command: Command) -> bool:
        obj, name = _obj(command), _rec(command)
        return (
            name in scene.reachable
            and receptacle_type(name) == appliance
            and scene.state.holding == obj
            and scene.counts.has(prop, object_type(obj))
        )

    return Rule(applies, _treated)


def _can_slice(scene: Scene, command: Command) -> bool:
    obj, knife = _obj(command), _tool(command)
    return (
        scene.state.holding == knife
        and object_type(knife) in KNIFE_TYPES
        and obj in scene.here(closed_too=True)
        and scene.counts.has("sliceable", object_type(obj))
    )


def _can_use(scene: Scene, command: Command) -> bool:
    obj = _obj(command)
    return obj in scene.here(closed_too=True) and scene.counts.has("toggleable", object_type(obj))


def _can_examine(scene: Scene, command: Command) -> bool:
    name = _obj(command)
    if name in scene.state.world_state:
        return name in scene.reachable
    return name == scene.state.holding  # an object not held: "Nothing happens."


def _examined(scene: Scene, command: Command) -> str:
    name = _obj(command)
    if name in scene.state.world_state:
        return scene.view(name, ())
    otype = object_type(name)
    if scene.counts.has("isReceptacleObject", otype):
        return f"This is a normal {name}. In it, you see nothing."  # left unparsed: state unchanged
    known = set(_states_of(scene.state, name))
    words: list[str] = [w for w in ("hot", "cool") if w in known]
    if "clean" in known and words:
        words = [words[0], "and", "clean"]
    elif "clean" in known:
        words = ["clean"]
    if "sliced" in known:
        words.append("sliced")
    if words:
        text = " ".join("cold" if w == "cool" and len(words) == 1 else w for w in words)
        return f"This is a {text} {name}."
    if scene.counts.has("toggleable", otype):
        return f"This {name} is {'on' if 'on' in known else 'off'}."
    return f"There's nothing special about {name}."


def _inventory(scene: Scene, command: Command) -> str:
    held = scene.state.holding
    return f"You are carrying: a {held}." if held is not None else "You are not carrying anything."


def _treated(scene: Scene, command: Command) -> str:
    return f"You {command.verb} the {_obj(command)} using the {_rec(command)}."


RULES: dict[Verb, Rule] = {
    "go to": Rule(_can_go, _arrive),
    "open": Rule(_can_open, _opened),
    "close": Rule(_can_close, lambda s, c: f"You close the {_rec(c)}."),
    "take": Rule(_can_take, lambda s, c: f"You pick up the {_obj(c)} from the {_rec(c)}."),
    "move": Rule(_can_move, lambda s, c: f"You move the {_obj(c)} to the {_rec(c)}."),
    "heat": _treatment("heat"),
    "cool": _treatment("cool"),
    "clean": _treatment("clean"),
    "slice": Rule(_can_slice, lambda s, c: f"You sliced the {_obj(c)} with the {_tool(c)}."),
    "use": Rule(_can_use, lambda s, c: f"You turn on the {_obj(c)}."),
    "examine": Rule(_can_examine, _examined),
    "inventory": Rule(_always, _inventory),
    "look": Rule(_always, lambda s, c: ""),  # the parser keeps the state as it is
    "help": Rule(_always, lambda s, c: ""),
}


# ---------------------------------------------------------------- helpers


def _bases(objects: Iterable[str]) -> set[str]:
    return {base_name(o) for o in objects}


def _listing(names: list[str]) -> str:
    if not names:
        return "nothing"
    items = [f"{'an' if n[0] in 'aeiou' else 'a'} {n}" for n in names]
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]}, and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def _states_of(state: SymbolicState, name: str) -> tuple[str, ...]:
    if state.holding == name:
        return object_states(state.inventory)
    for rec in state.world_state.values():
        for entry in rec.objects:
            if base_name(entry) == name:
                return object_states(entry)
    return state.unlisted_states.get(name, ())


__all__ = ["KNIFE_TYPES", "NOTHING_HAPPENS", "RULES", "Rule", "Scene", "feedback", "split_instance"]
