"""The reference implementation's dialect of the symbolic state, and its conversion to ours.

The paper's own code (GitHub WoodySJR/IMPLEMENT, `implement/utils/state_utils.py`) keeps the
same dict with other conventions; a checkpoint trained on its curated data reads and writes
them. Mapped here:

- the agent starts at "middle of the room" (ours: "middle of room");
- empty hands are `None` (ours: "nothing");
- drawers and cabinets start `"open": False`, the other openable types (fridge, microwave,
  safe) `"N/A"` until the agent first sees them;
- arriving at a closed receptacle sets its `open` but leaves `visited` False: the reference
  marks a receptacle visited once it saw inside (ours: once the agent was there);
- states are written as Python literals with double quotes (`True`/`False`/`None`): its
  prompts and training answers are `str(state)` with the quotes swapped.

MetaICL conditions (`conditions_to_reference`, `conditions_from_reference`) are its lists:
condition 1 `[receptacle, [types]]`, condition 2 `[action, location, inventory, target
receptacle state]` (`{}` without a target), as `scripts/prepare_metaicl_data.py` builds them.

What cannot be mapped exactly: a closed drawer or cabinet the agent arrived at and never
opened reads, in the reference, like one never seen, so it comes back unvisited unless the
agent still stands at it; an empty receptacle opened and closed again reads, in ours, like
one only arrived at, so it goes out unvisited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from implement.errors import ConfigError
from implement.metaicl.records import Conditions, FailedAction
from implement.state import (
    MIDDLE_OF_ROOM,
    NA,
    NOTHING,
    OPENABLE_TYPES,
    OpenState,
    ReceptacleState,
    StateError,
    SymbolicState,
    receptacle_type,
)
from implement.world_model.base import action_target
from implement.world_model.parsing import StateParseError, first_valid

IMPLEMENT, REFERENCE = "implement", "reference"  # the values of `world_model.dialect`

REFERENCE_MIDDLE_OF_ROOM = "middle of the room"
CLOSED_AT_START = frozenset({"drawer", "cabinet"})  # the reference's openable types known from the start


def check_dialect(dialect: str) -> str:
    """`dialect` if it is one of ours; `ConfigError` naming the valid ones otherwise."""
    if dialect not in (IMPLEMENT, REFERENCE):
        raise ConfigError(f"unknown world-model dialect {dialect!r}; expected {IMPLEMENT!r} or {REFERENCE!r}")
    return dialect


# ---------------------------------------------------------------- states


def to_reference(state: SymbolicState) -> dict[str, Any]:
    """`state` as the reference's plain data (None hands, its start location, its visited/open rules)."""
    return {
        "agent_location": _location_out(state.agent_location),
        "inventory": _inventory_out(state.inventory),
        "world_state": {name: _receptacle_out(name, rec) for name, rec in state.world_state.items()},
    }


def _location_out(location: str) -> str:
    return REFERENCE_MIDDLE_OF_ROOM if location == MIDDLE_OF_ROOM else location


def _inventory_out(inventory: str) -> str | None:
    return None if inventory in (NOTHING, "") else inventory


def _receptacle_out(name: str, rec: ReceptacleState) -> dict[str, Any]:
    visited, opened = rec.visited, rec.open
    if visited and opened is False and not rec.objects:  # arrived at it closed: nothing seen inside
        visited = False
    elif not visited and opened is False and receptacle_type(name) not in CLOSED_AT_START:
        opened = NA  # a fridge, microwave or safe never seen
    return {"visited": visited, "open": opened, "objects": list(rec.objects)}


def reference_text(state: SymbolicState) -> str:
    """`to_reference(state)` as the reference writes it: a Python literal with double quotes."""
    return python_literal(to_reference(state))


def python_literal(value: Any) -> str:
    """Plain data as a Python literal with double-quoted strings (`ast.literal_eval` reads it back)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # its escapes are Python's too
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{json.dumps(str(k))}: {python_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    raise TypeError(f"not plain data: {type(value).__name__}")


def from_reference(value: str | Mapping[str, Any]) -> SymbolicState:
    """A reference state (a Python-literal or JSON string, or a decoded mapping) in our conventions.

    A string may be a whole model answer: it is searched as `parse_state` does (fences,
    balanced objects), read with `json.loads` or `ast.literal_eval`, never executed.
    `StateParseError` when it holds no valid state.
    """
    if isinstance(value, Mapping):
        return _state_in(value)
    if not isinstance(value, str):
        raise StateParseError(f"expected a reference state (a string or mapping), got {type(value).__name__}")
    return first_valid(value, _state_in, "no valid reference state in")


def _state_in(data: Mapping[str, Any]) -> SymbolicState:
    if not isinstance(data, Mapping):
        raise StateParseError(f"expected a reference state object, got {type(data).__name__}")
    missing = {"agent_location", "inventory", "world_state"} - set(data)
    if missing:
        raise StateParseError(f"reference state is missing keys {sorted(missing)}")
    location, inventory, world = data["agent_location"], data["inventory"], data["world_state"]
    if not isinstance(location, str):
        raise StateParseError(f"agent_location: expected a string, got {location!r}")
    if inventory is not None and not isinstance(inventory, str):
        raise StateParseError(f"inventory: expected a string or None, got {inventory!r}")
    if not isinstance(world, Mapping):
        raise StateParseError(f"world_state: expected an object, got {type(world).__name__}")
    location = _location_in(location)
    return SymbolicState(
        agent_location=location,
        inventory=_inventory_in(inventory),
        world_state={str(name): _receptacle_in(str(name), rec, location) for name, rec in world.items()},
    )


def _location_in(location: str) -> str:
    return MIDDLE_OF_ROOM if location.strip() == REFERENCE_MIDDLE_OF_ROOM else location


def _inventory_in(inventory: str | None) -> str:
    return NOTHING if inventory in (None, "") else str(inventory)


def _receptacle_in(name: str, data: Any, location: str) -> ReceptacleState:
    if not isinstance(data, Mapping):
        raise StateParseError(f"world_state[{name!r}]: expected an object, got {type(data).__name__}")
    objects = data.get("objects")
    rec = ReceptacleState.from_dict({**data, "objects": [] if objects is None else objects}, name)
    visited: bool = rec.visited
    opened: OpenState = rec.open
    kind = receptacle_type(name)
    if opened == NA and kind in OPENABLE_TYPES:  # not seen yet, or seen inside on arrival (then open)
        opened = visited
    elif opened is False and not visited and (name == location or kind not in CLOSED_AT_START):
        visited = True  # the agent arrived at it closed (a fridge's False means it was seen)
    return ReceptacleState(visited=visited, open=opened, objects=rec.objects)


# ---------------------------------------------------------------- MetaICL conditions


def conditions_to_reference(conditions: Conditions) -> tuple[list[list[Any]], list[list[Any]]]:
    """The reference's condition 1 (`[receptacle, [types]]` pairs) and condition 2
    (`[action, location, inventory, target receptacle state]`, `{}` without a target)."""
    object_lists = [[name, list(types)] for name, types in conditions.object_lists.items()]
    failed = []
    for f in conditions.failed_actions:
        target = action_target(f.action) or ""
        state = (
            {}
            if f.target_state is None
            else _receptacle_out(target, ReceptacleState.from_dict(f.target_state))
        )
        failed.append([f.action, _location_out(f.agent_location), _inventory_out(f.inventory), state])
    return object_lists, failed


def conditions_from_reference(object_lists: Any, failed_actions: Any) -> Conditions:
    """Conditions from the reference's forms: object lists as a mapping or `[receptacle, types]`
    pairs, failed actions as `[action, location, inventory, receptacle state]` lists.
    `StateError` on anything else."""
    if isinstance(object_lists, Mapping):
        pairs = list(object_lists.items())
    elif isinstance(object_lists, list | tuple):
        pairs = list(object_lists)
    else:
        raise StateError(
            f"object lists: expected a mapping or a list of pairs, got {type(object_lists).__name__}"
        )
    lists: dict[str, list[str]] = {}
    for pair in pairs:
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise StateError(f"object list: expected [receptacle, [types]], got {pair!r}")
        if not isinstance(pair[1], list | tuple) or not all(isinstance(t, str) for t in pair[1]):
            raise StateError(f"object list of {pair[0]!r}: expected a list of types, got {pair[1]!r}")
        lists[pair[0]] = list(pair[1])
    if not isinstance(failed_actions, list | tuple):
        raise StateError(f"failed actions: expected a list, got {type(failed_actions).__name__}")
    return Conditions(object_lists=lists, failed_actions=[_failed_in(f) for f in failed_actions])


def _failed_in(entry: Any) -> FailedAction:
    if not (isinstance(entry, list | tuple) and len(entry) == 4):
        raise StateError(
            f"failed action: expected [action, location, inventory, receptacle state], got {entry!r}"
        )
    action, location, inventory, target = entry
    if not isinstance(action, str) or not isinstance(location, str):
        raise StateError(f"failed action {entry!r}: action and location must be strings")
    if inventory is not None and not isinstance(inventory, str):
        raise StateError(f"failed action {action!r}: inventory must be a string or None, got {inventory!r}")
    if not isinstance(target, Mapping):
        raise StateError(f"failed action {action!r}: receptacle state must be an object, got {target!r}")
    location = _location_in(location)
    name = action_target(action) or ""
    return FailedAction(
        action=action,
        agent_location=location,
        inventory=_inventory_in(inventory),
        target_state=_receptacle_in(name, target, location).to_dict() if target else None,
    )


__all__ = [
    "CLOSED_AT_START",
    "IMPLEMENT",
    "REFERENCE",
    "REFERENCE_MIDDLE_OF_ROOM",
    "check_dialect",
    "conditions_from_reference",
    "conditions_to_reference",
    "from_reference",
    "python_literal",
    "reference_text",
    "to_reference",
]
