"""The symbolic state of IMPLEMENT: its records, object and receptacle names, and diffs.

The state is the paper's JSON dict, kept exactly (its prompts and checkpoints expect it)::

    {"agent_location": "countertop 1", "inventory": "apple 1",
     "world_state": {"fridge 1": {"visited": true, "open": false, "objects": ["egg 2"]},
                    "countertop 1": {"visited": true, "open": "N/A", "objects": ["knife 1"]}}}

- `agent_location` is "middle of room" before the first move, then the receptacle the agent
  last arrived at.
- `inventory` is the held object with its state suffixes, or "nothing".
- Object states are suffixes in a fixed order: `(hot)` or `(cool)`, `(clean)`, `(sliced)`,
  `(on)`; e.g. `apple 1(hot)(sliced)`, `desklamp 1(on)`.
- `open` is true/false for openable receptacles and "N/A" otherwise; a receptacle never seen
  is openable when its type is (`OPENABLE_TYPES`: cabinet, drawer, fridge, microwave and
  safe, in ALFWorld's data the only openable types).

How ALFWorld's text observations update the state: `implement.world_model.perception`.
Two diffs: `diff_states` (each change as from/to, for reading beliefs) and the compact one a
world model may answer (`state_diff` / `apply_diff`: only the new values of what changes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from implement.errors import ImplementError

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

    @classmethod
    def unseen(cls, name: str) -> ReceptacleState:
        """A receptacle never seen: unvisited, empty, closed when its type is openable."""
        return cls(visited=False, open=False if receptacle_type(name) in OPENABLE_TYPES else NA)


@dataclass(frozen=True)
class SymbolicState:
    """The paper's symbolic state. Immutable: the parser returns new states.

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

    def receptacle(self, name: str) -> ReceptacleState:
        """The known state of a receptacle (a default, unvisited one when it is not listed)."""
        return self.world_state.get(name) or ReceptacleState.unseen(name)

    @property
    def holding(self) -> str | None:
        """The held object's name without suffixes, or None."""
        return None if self.inventory in (NOTHING, "") else base_name(self.inventory)


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


# The compact diff: the new values of what changed, each changed receptacle whole.
#   {"agent_location": "fridge 1", "world_state": {"fridge 1": {"visited": true, "open": true,
#    "objects": ["egg 1"]}}}; {} = nothing changes. Keys left out keep their value.
DIFF_KEYS = ("agent_location", "inventory", "world_state")
RECEPTACLE_KEYS = ("visited", "open", "objects")


def state_diff(a: SymbolicState, b: SymbolicState) -> dict[str, Any]:
    """The compact diff that turns `a` into `b` (`apply_diff(a, state_diff(a, b)) == b`).

    A diff can add receptacles but not remove one: a `b` lacking one of `a`'s is a `StateError`.
    """
    lost = [name for name in a.world_state if name not in b.world_state]
    if lost:
        raise StateError(f"a diff cannot remove receptacles, but {sorted(lost)} are gone")
    diff: dict[str, Any] = {}
    if a.agent_location != b.agent_location:
        diff["agent_location"] = b.agent_location
    if a.inventory != b.inventory:
        diff["inventory"] = b.inventory
    world = {name: r.to_dict() for name, r in b.world_state.items() if a.world_state.get(name) != r}
    if world:
        diff["world_state"] = world
    return diff


def apply_diff(state: SymbolicState, diff: Mapping[str, Any]) -> SymbolicState:
    """`state` with a compact diff applied; `StateError` on unknown keys or bad values.

    A receptacle of the diff may list only some of its fields (the others are kept); one not in
    `state` (newly seen) starts from `ReceptacleState.unseen`.
    """
    if not isinstance(diff, Mapping):
        raise StateError(f"expected a diff object, got {type(diff).__name__}")
    unknown = sorted(set(diff) - set(DIFF_KEYS))
    if unknown:
        raise StateError(f"diff has unknown keys {unknown}; expected any of {list(DIFF_KEYS)}")
    changed: dict[str, Any] = {}
    for key in ("agent_location", "inventory"):
        if key in diff:
            if not isinstance(diff[key], str):
                raise StateError(f"diff {key}: expected a string, got {diff[key]!r}")
            changed[key] = diff[key]
    world = diff.get("world_state", {})
    if not isinstance(world, Mapping):
        raise StateError(f"diff world_state: expected an object, got {type(world).__name__}")
    receptacles = dict(state.world_state)
    for name, change in world.items():
        if not isinstance(change, Mapping):
            raise StateError(f"diff world_state[{name!r}]: expected an object, got {type(change).__name__}")
        unknown = sorted(set(change) - set(RECEPTACLE_KEYS))
        if unknown:
            known = list(RECEPTACLE_KEYS)
            raise StateError(f"diff world_state[{name!r}]: unknown keys {unknown}; expected any of {known}")
        receptacles[str(name)] = ReceptacleState.from_dict(
            {**state.receptacle(str(name)).to_dict(), **change}, str(name)
        )
    return replace(state, **changed, world_state=receptacles)
