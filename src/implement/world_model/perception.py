"""Perception by text: the deterministic parser of ALFWorld's observations into `SymbolicState`s.

`initial_state` reads the first observation, `update_state` every later one. Conventions:

- `agent_location` is "middle of room" before the first move, then the receptacle the agent
  last arrived at ("go to X"). Acting on another receptacle at the same spot (ALFWorld puts
  e.g. a dresser and its drawers at one location) does not move the agent.
- A state of an object is known once the agent caused it (heat, cool, clean, slice, use) or
  read it (examine); the engine's listings of a receptacle never show states, so a listed
  object keeps the states already known of it. ALFWorld lets the agent use or slice an
  object in a receptacle at its spot that it never looked into; such states are kept aside
  (`SymbolicState.unlisted_states`, outside the JSON) until the object is listed.
- Every receptacle of the first observation is in `world_state` from the start, unvisited,
  with no objects; until a receptacle is seen its openability is inferred from its type
  (`ReceptacleState.unseen`: openable ones are closed at the start), and the first sight of
  it ("The X is closed." / "On the X, you see ...") settles it.
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

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace

from implement.envs.commands import parse_command
from implement.state import (
    MIDDLE_OF_ROOM,
    NA,
    NOTHING,
    STATE_ORDER,
    OpenState,
    ReceptacleState,
    SymbolicState,
    base_name,
    object_states,
    split_name,
    with_states,
)

logger = logging.getLogger(__name__)

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
    return SymbolicState(world_state={name: ReceptacleState.unseen(name) for name in names})


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


# ---------------------------------------------------------------- helpers


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
    new = {name: ReceptacleState.unseen(name) for name in names if name not in state.world_state}
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
