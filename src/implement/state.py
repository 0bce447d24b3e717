"""The symbolic state of IMPLEMENT and the deterministic parser of ALFWorld's text observations.

The state is the paper's JSON dict, kept exactly (its prompts and checkpoints expect it)::

    {"agent_location": "countertop 1", "inventory": "apple 1",
     "world_state": {"fridge 1": {"visited": true, "open": false, "objects": ["egg 2"]},
                    "countertop 1": {"visited": true, "open": "N/A", "objects": ["knife 1"]}}}

Conventions:

- `agent_location` is "middle of room" before the first move, then the receptacle the agent
  last arrived at ("go to X"). Acting on another receptacle at the same spot (ALFWorld puts
  e.g. a dresser and its drawers at one location) does not move the agent.
- `inventory` is the held object with its state suffixes, or "nothing".
- Object states are suffixes in a fixed order: `(hot)` or `(cool)`, `(clean)`, `(sliced)`,
  `(on)`; e.g. `apple 1(hot)(sliced)`, `desklamp 1(on)`. A state is known once the agent
  caused it (heat, cool, clean, slice, use) or read it (examine); the engine's listings of
  a receptacle never show states, so a listed object keeps the states already known of it.
  ALFWorld lets the agent use or slice an object in a receptacle at its spot that it never
  looked into; such states are kept aside (`SymbolicState.unlisted_states`, outside the JSON)
  until the object is listed.
- Every receptacle of the first observation is in `world_state` from the start, unvisited,
  with no objects. `open` is true/false for openable receptacles and "N/A" otherwise; until
  a receptacle is seen its openability is inferred from its type (`OPENABLE_TYPES`: cabinet,
  drawer, fridge, microwave and safe are closed at the start, in ALFWorld's data the only
  openable types), and the first sight of it ("The X is closed." / "On the X, you see ...")
  settles it.
- `visited` becomes true when the agent arrives at a receptacle or sees into it (open,
  examine); taking from or putting into a receptacle at the same spot that was never seen
  (ALFWorld allows it) leaves it unvisited. `objects` lists what is known to be there:
  everything, once the inside was seen; of a receptacle never seen inside (unvisited, or
  closed and never opened), only the objects the agent put there.
- Objects inside movable receptacle objects (an apple in a bowl) are listed by the engine on
  the receptacle itself, and so are they here; the contents that "examine bowl 1" prints are
  not kept separately (the format has no nesting).
- Object pickup removes the object only from the receptacle it was taken from, as the
  engine does (a few ALFWorld games put one object in two receptacles).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from implement.envs.commands import parse_command
from implement.errors import ImplementError

logger = logging.getLogger(__name__)

NA: Literal["N/A"] = "N/A"
NOTHING = "nothing"
MIDDLE_OF_ROOM = "middle of room"
OPENABLE_TYPES = frozenset({"cabinet", "drawer", "fridge", "microwave", "safe"})
STATE_ORDER = ("hot", "cool", "clean", "sliced", "on")

OpenState: TypeAlias = "bool | Literal['N/A']"


class StateError(ImplementError, ValueError):
    """A symbolic state dict does not have the expected shape."""


# ---------------------------------------------------------------- names and suffixes

_SUFFIX = re.compile(r"\(([^()]*)\)\s*$")


def split_name(name: str) -> tuple[str, tuple[str, ...]]:
    """'apple 1(hot)(sliced)' -> ('apple 1', ('hot', 'sliced')), states in canonical order."""
    states: list[str] = []
    rest = name.strip()
    while match := _SUFFIX.search(rest):
        states.extend(s.strip().lower() for s in match.group(1).split(",") if s.strip())
        rest = rest[: match.start()].rstrip()
    return rest, _ordered(states)


def base_name(name: str) -> str:
    """'apple 1(hot)' -> 'apple 1'."""
    return split_name(name)[0]


def object_states(name: str) -> tuple[str, ...]:
    """'apple 1(hot)(clean)' -> ('hot', 'clean')."""
    return split_name(name)[1]


def with_states(name: str, states: Iterable[str]) -> str:
    """'apple 1', ['clean', 'hot'] -> 'apple 1(hot)(clean)' (any old suffixes replaced)."""
    return base_name(name) + "".join(f"({s})" for s in _ordered(states))


def object_type(name: str) -> str:
    """'apple 1(hot)' -> 'apple'."""
    return _type_of(base_name(name))


def receptacle_type(name: str) -> str:
    """'countertop 1' -> 'countertop'."""
    return _type_of(base_name(name))


def _type_of(name: str) -> str:
    head, _, tail = name.rpartition(" ")
    return head if head and tail.isdigit() else name


def _ordered(states: Iterable[str]) -> tuple[str, ...]:
    unique = {("cool" if s == "cold" else s): None for s in states}
    known = [s for s in STATE_ORDER if s in unique]
    return (*known, *sorted(s for s in unique if s not in STATE_ORDER))


# ---------------------------------------------------------------- the state


@dataclass(frozen=True)
class ReceptacleState:
    """What the agent knows of one receptacle."""

    visited: bool = False
    open: OpenState = NA
    objects: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"visited": self.visited, "open": self.open, "objects": list(self.objects)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "receptacle") -> ReceptacleState:
        if not isinstance(data, Mapping):
            raise StateError(f"world_state[{name!r}]: expected an object, got {type(data).__name__}")
        missing = {"visited", "open", "objects"} - set(data)
        if missing:
            raise StateError(f"world_state[{name!r}]: missing keys {sorted(missing)}")
        visited, opened, objects = data["visited"], data["open"], data["objects"]
        if not isinstance(visited, bool):
            raise StateError(f"world_state[{name!r}].visited: expected true/false, got {visited!r}")
        if opened != NA and not isinstance(opened, bool):
            raise StateError(f"world_state[{name!r}].open: expected true, false or 'N/A', got {opened!r}")
        if not isinstance(objects, list | tuple) or not all(isinstance(o, str) for o in objects):
            raise StateError(f"world_state[{name!r}].objects: expected a list of names, got {objects!r}")
        return cls(visited=visited, open=opened, objects=tuple(objects))


@dataclass(frozen=True)
class SymbolicState:
    """The paper's symbolic state. Immutable: `update` and the parser return new states.

    `world_state` maps receptacle names to `ReceptacleState`s in first-seen order; treat it
    as read-only.
    """

    agent_location: str = MIDDLE_OF_ROOM
    inventory: str = NOTHING
    world_state: dict[str, ReceptacleState] = field(default_factory=dict)
    # States of objects listed nowhere yet (used or sliced in a receptacle at the agent's spot
    # that it never looked into), applied once they are listed. Not part of the paper's JSON.
    unlisted_states: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_location": self.agent_location,
            "inventory": self.inventory,
            "world_state": {name: r.to_dict() for name, r in self.world_state.items()},
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SymbolicState:
        if not isinstance(data, Mapping):
            raise StateError(f"expected a state object, got {type(data).__name__}")
        missing = {"agent_location", "inventory", "world_state"} - set(data)
        if missing:
            raise StateError(f"state is missing keys {sorted(missing)}")
        location, inventory, world = data["agent_location"], data["inventory"], data["world_state"]
        if not isinstance(location, str) or not isinstance(inventory, str):
            raise StateError(f"agent_location and inventory must be strings, got {location!r}, {inventory!r}")
        if not isinstance(world, Mapping):
            raise StateError(f"world_state: expected an object, got {type(world).__name__}")
        return cls(
            agent_location=location,
            inventory=inventory,
            world_state={str(name): ReceptacleState.from_dict(r, str(name)) for name, r in world.items()},
        )

    @classmethod
    def from_json(cls, text: str) -> SymbolicState:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateError(f"not a JSON state: {exc}") from exc
        return cls.from_dict(data)

    def update(self, action: str, observation: str) -> SymbolicState:
        """The state after `action` was answered with `observation` (see `update_state`)."""
        return update_state(self, action, observation)

    def receptacle(self, name: str) -> ReceptacleState:
        """The known state of a receptacle (a default, unvisited one when it is not listed)."""
        return self.world_state.get(name) or _unseen(name)

    @property
    def holding(self) -> str | None:
        """The held object's name without suffixes, or None."""
        return None if self.inventory in (NOTHING, "") else base_name(self.inventory)


def _unseen(name: str) -> ReceptacleState:
    return ReceptacleState(visited=False, open=False if receptacle_type(name) in OPENABLE_TYPES else NA)


# ---------------------------------------------------------------- the parser

_LIST_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_ARTICLE = re.compile(r"^(?:a|an|the|some)\s+", re.IGNORECASE)
_WHERE = re.compile(r"\s*\(in/on the [^)]*\)\s*$")
_LOOK_AROUND = re.compile(r"Looking quickly around you, you see (?P<list>.*?)\.(?:\s|$)", re.DOTALL)
_TAG = re.compile(r"^[A-Z][A-Za-z]+:\s+")  # "PutObjectInReceptacleObject: You put ..."

_VIEW_CLOSED = re.compile(r"^The (?P<r>.+?) is closed\.$")
_VIEW_OPEN = re.compile(r"^The (?P<r>.+?) is open\. In it, you see (?P<list>.*?)\.$")
_VIEW_ON = re.compile(r"^(?:On|In) the (?P<r>.+?), you see (?P<list>.*?)\.$")

_ARRIVE = re.compile(r"^You arrive at (?:the )?(?P<r>.+?)\.(?:\s+(?P<rest>.*))?$")
_OPEN = re.compile(r"^You open the (?P<r>.+?)\.(?:\s+(?P<rest>.*))?$")
_CLOSE = re.compile(r"^You close the (?P<r>.+?)\.$")
_TAKE = re.compile(r"^You pick up the (?P<o>.+?)(?: from the (?P<r>.+?))?\.$")
_PUT = re.compile(r"^You (?:move|put) the (?P<o>.+?) (?:to|in/on|into|onto|in|on) the (?P<r>.+?)\.$")
_TREAT = re.compile(r"^You (?P<verb>heat|cool|clean) the (?P<o>.+?) (?:using|with) the (?P<r>.+?)\.$")
_SLICE = re.compile(r"^You slice(?:d)? the (?P<o>.+?) with the (?P<k>.+?)\.$")
_TOGGLE = re.compile(r"^You turn (?P<how>on|off) the (?P<o>.+?)\.$")
_NO_SWITCH = re.compile(r"^You don't see any switch on the (?P<o>.+?)\.$")
_CARRYING = re.compile(r"^You are carrying:? (?P<list>.*?)\.$")
_NOT_CARRYING = re.compile(r"^You are not carrying anything\.$")
_EXAMINE_HOLDER = re.compile(r"^This is a normal (?P<o>.+?)\. In it, you see (?P<list>.*?)\.$")
_EXAMINE_SWITCH = re.compile(r"^This (?P<o>.+?) is (?P<how>on|off)\.$")
_EXAMINE_STATES = re.compile(r"^This is an? (?P<adj>(?:(?:hot|cool|cold|clean|sliced|and)\s+)+)(?P<o>.+?)\.$")
_EXAMINE_PLAIN = re.compile(r"^There's nothing special about (?:the )?(?P<o>.+?)\.$")
_LOOK_FACING = re.compile(r"^You are facing the (?P<list>.+?)\. Next to it, you see (?P<floor>.*?)\.$")
_LOOK_MIDDLE = re.compile(
    r"^You are in the middle of a room\. Looking quickly around you, you see (?P<list>.*?)\.$"
)
_NOTHING_HAPPENS = re.compile(r"^Nothing happens\.$")
_HELP = re.compile(r"^Available commands:")


def parse_list(text: str) -> list[str]:
    """'a apple 1, an egg 2, and a mug 1' -> ['apple 1', 'egg 2', 'mug 1']; 'nothing' -> []."""
    text = text.strip().rstrip(".").strip()
    if not text or text.lower() == NOTHING:
        return []
    items = []
    for item in _LIST_SPLIT.split(text):
        item = _WHERE.sub("", _ARTICLE.sub("", item.strip())).strip()
        if item:
            items.append(item)
    return items


def receptacles_in(observation_text: str) -> list[str]:
    """The receptacles an observation names in "Looking quickly around you, you see ..."."""
    match = _LOOK_AROUND.search(" ".join(observation_text.split()))
    return parse_list(match.group("list")) if match else []


def initial_state(observation_text: str) -> SymbolicState:
    """The state before the first move: every receptacle of the intro, unvisited and empty."""
    names = receptacles_in(observation_text)
    if not names:
        logger.debug("no receptacles found in the first observation: %r", observation_text[:200])
    return SymbolicState(world_state={name: _unseen(name) for name in names})


def update_state(prev: SymbolicState, action: str, observation: str) -> SymbolicState:
    """The state after `action` was answered with `observation`, parsed without any model.

    Handles every feedback of ALFWorld's text engine (both the game files' grammar and the
    older `put X in/on Y` one). "Nothing happens." and unrecognized text leave the state as
    it was (the latter is logged at debug level).
    """
    text = _TAG.sub("", " ".join(observation.split()))
    for pattern, handler in _HANDLERS:
        match = pattern.match(text)
        if match:
            return handler(prev, match, action)
    logger.debug("unrecognized observation after %r, state unchanged: %r", action, text[:200])
    return prev


_Handler = Callable[[SymbolicState, "re.Match[str]", str], SymbolicState]


def _unchanged(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    return state


def _arrive(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    name = match.group("r")
    rest = match.group("rest") or ""
    viewed = _view(state, rest)
    if viewed is not None:
        state, seen = viewed
        if re.fullmatch(r"loc \d+", name):  # the older grammar names the location, not the receptacle
            name = seen
    elif rest:
        logger.debug("unrecognized arrival view after %r: %r", action, rest[:200])
    if re.fullmatch(r"loc \d+", name):
        go = parse_command(action.strip().lower())
        if go is None or go.verb != "go to" or go.receptacle is None:
            return state
        name = go.receptacle
    state = _set_receptacle(state, name, visited=True)
    return replace(state, agent_location=name)


def _examine_receptacle(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    viewed = _view(state, match.group(0))
    return state if viewed is None else viewed[0]


def _view(state: SymbolicState, text: str) -> tuple[SymbolicState, str] | None:
    """Apply "The X is closed." / "The X is open. In it, ..." / "On the X, you see ..."."""
    if match := _VIEW_CLOSED.match(text):
        name = match.group("r")
        return _set_receptacle(state, name, visited=True, open=False), name
    if match := _VIEW_OPEN.match(text):
        name = match.group("r")
        objects = _with_known_states(state, parse_list(match.group("list")))
        return _set_receptacle(state, name, visited=True, open=True, objects=objects), name
    if match := _VIEW_ON.match(text):
        name = match.group("r")
        objects = _with_known_states(state, parse_list(match.group("list")))
        return _set_receptacle(state, name, visited=True, open=NA, objects=objects), name
    return None


def _open(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    name = match.group("r")
    state = _set_receptacle(state, name, visited=True, open=True)
    rest = match.group("rest") or ""
    viewed = _view(state, rest)
    if viewed is None:
        if rest:
            logger.debug("unrecognized view after %r: %r", action, rest[:200])
        return state
    return _set_receptacle(viewed[0], name, open=True)


def _close(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    return _set_receptacle(state, match.group("r"), visited=True, open=False)


def _take(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    obj = base_name(match.group("o"))
    source = match.group("r") or state.agent_location
    held = with_states(obj, _known_states(state).get(obj, ()))
    rec = state.world_state.get(source)
    if rec is not None:
        for entry in rec.objects:  # the states known where it was taken from
            if base_name(entry) == obj:
                held = with_states(obj, object_states(entry))
        objects = tuple(o for o in rec.objects if base_name(o) != obj)
        state = _set_receptacle(state, source, objects=objects)
    elif match.group("r"):
        state = _set_receptacle(state, source)
    return replace(state, inventory=held)


def _put(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    obj, target = base_name(match.group("o")), match.group("r")
    known = _known_states(state).get(obj, ())
    placed = state.inventory if state.holding == obj else with_states(obj, known)
    rec = state.receptacle(target)
    objects = (*(o for o in rec.objects if base_name(o) != obj), placed)
    state = _set_receptacle(state, target, objects=objects)
    return replace(state, inventory=NOTHING)


def _treat(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    verb = match.group("verb")
    if verb == "heat":
        return _restate(state, match.group("o"), add=("hot",), remove=("cool",))
    if verb == "cool":
        return _restate(state, match.group("o"), add=("cool",), remove=("hot",))
    return _restate(state, match.group("o"), add=("clean",))


def _slice(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    return _restate(state, match.group("o"), add=("sliced",))


def _toggle(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    if match.group("how") == "on":
        return _restate(state, match.group("o"), add=("on",))
    return _restate(state, match.group("o"), remove=("on",))


def _carrying(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    items = parse_list(match.group("list"))
    if not items:
        return replace(state, inventory=NOTHING)
    obj = base_name(items[0])
    if state.holding == obj:
        return state
    return replace(state, inventory=with_states(obj, _known_states(state).get(obj, ())))


def _not_carrying(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    return replace(state, inventory=NOTHING)


def _examine_states(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    words = {"cool" if w == "cold" else w for w in match.group("adj").split()} - {"and"}
    thermal_clean_sliced = ("hot", "cool", "clean", "sliced")
    return _restate(state, match.group("o"), add=words, remove=thermal_clean_sliced)


def _examine_switch(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    if match.group("how") == "on":
        return _restate(state, match.group("o"), add=("on",))
    return _restate(state, match.group("o"), remove=("on",))


def _examine_plain(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    return _restate(state, match.group("o"), remove=STATE_ORDER)


def _look_facing(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    facing = parse_list(match.group("list"))
    state = _ensure_receptacles(state, facing)
    if facing and state.agent_location not in facing:
        return replace(state, agent_location=facing[0])
    return state


def _look_middle(state: SymbolicState, match: re.Match[str], action: str) -> SymbolicState:
    state = _ensure_receptacles(state, parse_list(match.group("list")))
    return replace(state, agent_location=MIDDLE_OF_ROOM)


_HANDLERS: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_NOTHING_HAPPENS, _unchanged),
    (_ARRIVE, _arrive),
    (_OPEN, _open),
    (_CLOSE, _close),
    (_TAKE, _take),
    (_PUT, _put),
    (_TREAT, _treat),
    (_SLICE, _slice),
    (_TOGGLE, _toggle),
    (_NO_SWITCH, _unchanged),
    (_CARRYING, _carrying),
    (_NOT_CARRYING, _not_carrying),
    (_EXAMINE_HOLDER, _unchanged),
    (_EXAMINE_SWITCH, _examine_switch),
    (_EXAMINE_STATES, _examine_states),
    (_EXAMINE_PLAIN, _examine_plain),
    (_VIEW_CLOSED, _examine_receptacle),
    (_VIEW_OPEN, _examine_receptacle),
    (_VIEW_ON, _examine_receptacle),
    (_LOOK_FACING, _look_facing),
    (_LOOK_MIDDLE, _look_middle),
    (_HELP, _unchanged),
)


# ---------------------------------------------------------------- helpers of the parser


def _set_receptacle(
    state: SymbolicState,
    name: str,
    *,
    visited: bool | None = None,
    open: OpenState | None = None,
    objects: Iterable[str] | None = None,
) -> SymbolicState:
    rec = state.receptacle(name)
    rec = ReceptacleState(
        visited=rec.visited if visited is None else visited,
        open=rec.open if open is None else open,
        objects=rec.objects if objects is None else tuple(objects),
    )
    return replace(state, world_state={**state.world_state, name: rec})


def _ensure_receptacles(state: SymbolicState, names: Iterable[str]) -> SymbolicState:
    new = {name: _unseen(name) for name in names if name not in state.world_state}
    return replace(state, world_state={**state.world_state, **new}) if new else state


def _known_states(state: SymbolicState) -> dict[str, tuple[str, ...]]:
    """Object name -> its known states, from every receptacle, the inventory and the memory."""
    known = dict(state.unlisted_states)
    for rec in state.world_state.values():
        for entry in rec.objects:
            name, states = split_name(entry)
            known[name] = states
    if state.holding is not None:
        name, states = split_name(state.inventory)
        known[name] = states
    return known


def _with_known_states(state: SymbolicState, names: Iterable[str]) -> list[str]:
    known = _known_states(state)
    return [with_states(name, (*object_states(name), *known.get(base_name(name), ()))) for name in names]


def _restate(
    state: SymbolicState, obj: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> SymbolicState:
    """Change the states of object `obj` wherever it is listed (inventory and receptacles)."""
    obj = base_name(obj)
    added, removed = set(add), set(remove) - set(add)

    def change(entry: str) -> str:
        name, states = split_name(entry)
        if name != obj:
            return entry
        return with_states(name, (set(states) - removed) | added)

    world = {
        name: replace(rec, objects=tuple(change(o) for o in rec.objects)) if rec.objects else rec
        for name, rec in state.world_state.items()
    }
    inventory = change(state.inventory) if state.holding == obj else state.inventory
    listed = state.holding == obj or any(base_name(o) == obj for r in world.values() for o in r.objects)
    memory = state.unlisted_states
    if not listed or obj in memory:
        states = split_name(change(with_states(obj, _known_states(state).get(obj, ()))))[1]
        memory = {**memory, obj: states}
    return replace(state, inventory=inventory, world_state=world, unlisted_states=memory)


# ---------------------------------------------------------------- diff


def diff_states(a: SymbolicState, b: SymbolicState) -> dict[str, Any]:
    """What changed from `a` to `b`, JSON-able; {} when they are equal.

    {"agent_location": {"from": .., "to": ..}, "inventory": {"from": .., "to": ..},
     "world_state": {"fridge 1": {"visited": {"from": false, "to": true},
                                  "open": {"from": false, "to": true},
                                  "objects": {"added": ["egg 2"], "removed": []}},
                     "shelf 3": {"added": {<receptacle dict>}}, "shelf 4": {"removed": {...}}}}
    Objects compare with their suffixes: "apple 1" -> "apple 1(hot)" is one removed, one added.
    """
    diff: dict[str, Any] = {}
    if a.agent_location != b.agent_location:
        diff["agent_location"] = {"from": a.agent_location, "to": b.agent_location}
    if a.inventory != b.inventory:
        diff["inventory"] = {"from": a.inventory, "to": b.inventory}
    world: dict[str, Any] = {}
    for name in (*a.world_state, *(n for n in b.world_state if n not in a.world_state)):
        ra, rb = a.world_state.get(name), b.world_state.get(name)
        if ra is None and rb is not None:
            world[name] = {"added": rb.to_dict()}
        elif rb is None and ra is not None:
            world[name] = {"removed": ra.to_dict()}
        elif ra is not None and rb is not None and ra != rb:
            change: dict[str, Any] = {}
            if ra.visited != rb.visited:
                change["visited"] = {"from": ra.visited, "to": rb.visited}
            if ra.open != rb.open:
                change["open"] = {"from": ra.open, "to": rb.open}
            added = [o for o in rb.objects if o not in ra.objects]
            removed = [o for o in ra.objects if o not in rb.objects]
            if added or removed:
                change["objects"] = {"added": added, "removed": removed}
            if change:  # an order-only change of objects is not reported
                world[name] = change
    if world:
        diff["world_state"] = world
    return diff
