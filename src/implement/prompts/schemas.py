"""The JSON schema of every LLM answer, built per request from what the request allows.

A backend that decodes under a schema (`ChatModel.schema_support` "constrained") can then
only answer what the round permits: a policy's `action` is an enum of that round's legal
choices and its `proposals` an array of enums of the admissible commands not evaluated yet;
a ReAct line is a bounded thought or one admissible command; a world-model state names only
the room's receptacles. The schemas are written for every backend at once: objects list all
their properties as required with `additionalProperties` false (OpenAI's strict mode), arrays
always have `items` (without one a decoder may write anything), strings are bounded. The
parsers stay as robust as before: servers that ignore schemas exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from implement.agents.policy import PolicyView
from implement.llm.base import Schema
from implement.state import MIDDLE_OF_ROOM, NA, OPENABLE_TYPES, receptacle_type

VERSION = "schemas-2"
MAX_THOUGHT = 200  # characters of a thought: bounded, so a small model cannot ramble to max_tokens
MAX_OBJECTS = 30  # objects listed in one receptacle
_NAME = {"type": "string", "maxLength": 60}


def _object(properties: dict[str, Any]) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _enum(values: Sequence[str]) -> Schema:
    return {"type": "string", "enum": list(dict.fromkeys(values))}


def _commands(values: Sequence[str], max_items: int) -> Schema:
    """An array of at most `max_items` of `values` (none allowed when `values` is empty)."""
    if not values:
        return {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    return {"type": "array", "items": _enum(values), "maxItems": max_items}


def policy_schema(
    view: PolicyView, max_proposals: int, *, max_thought: int = MAX_THOUGHT, prune_unchanged: bool = False
) -> Schema:
    """One policy round's answer, limited to what the round allows: choose (`help` false and an
    `action` among the round's choices) or, while it may, propose (`help` true, `action` null and
    one to `max_proposals` admissible commands not evaluated yet); both shapes when both are open.

    `max_thought`: the thought's length (0: no thought). `prune_unchanged` (beyond the paper):
    while some evaluated action is imagined to change the state, the ones imagined to change
    nothing are no choice, so that imagination informs even a model that cannot weigh beliefs.
    """
    thought = {"thought": {"type": "string", "maxLength": max_thought}} if max_thought else {}
    choices = list(view.evaluated) if view.imagination else list(view.admissible)
    if view.imagination and prune_unchanged:
        changing = [a for a, belief in view.evaluated.items() if belief.p_changes > 0]
        choices = changing or choices
    candidates = [c for c in view.admissible if c not in view.evaluated]
    choose = _object(
        {**thought, "help": {"enum": [False]}, "action": _enum(choices), "proposals": _commands([], 0)}
    )
    if view.final or not view.imagination or not candidates:
        return choose
    proposals = {**_commands(candidates, max_proposals), "minItems": 1}
    propose = _object(
        {**thought, "help": {"enum": [True]}, "action": {"type": "null"}, "proposals": proposals}
    )
    return {"anyOf": [propose, choose]} if choices else propose


def react_schema(admissible: Sequence[str], *, may_think: bool) -> Schema:
    """A ReAct step's answer: one line, a thought ("think: ...") or one admissible command."""
    command = _enum(admissible) if admissible else {"type": "string", "maxLength": 80}
    line = (
        {"anyOf": [{"type": "string", "pattern": f"^think: [^\\n]{{1,{MAX_THOUGHT}}}$"}, command]}
        if may_think
        else command
    )
    return _object({"line": line})


def _receptacle(name: str) -> Schema:
    """One receptacle's record: `open` a boolean where it opens, "N/A" where it does not."""
    return _object(
        {
            "visited": {"type": "boolean"},
            "open": {"type": "boolean"} if receptacle_type(name) in OPENABLE_TYPES else {"enum": [NA]},
            "objects": {"type": "array", "items": _NAME, "maxItems": MAX_OBJECTS},
        }
    )


def state_schema(receptacles: Sequence[str]) -> Schema:
    """A `[PER]`/`[PRE]` state: the known receptacles as keys, each record as `_receptacle`."""
    names = list(dict.fromkeys(receptacles))
    world = {name: _receptacle(name) for name in names}
    return _object(
        {
            "agent_location": _enum([MIDDLE_OF_ROOM, *names]),
            "inventory": _NAME,
            "world_state": _object(world),
        }
    )


def diff_schema(receptacles: Sequence[str]) -> Schema:
    """A `[PER]`/`[PRE]` answer in the `diff` format (`implement.state.state_diff`): every key
    optional, a changed receptacle (one of `receptacles`) whole. The one schema here with optional
    properties: OpenAI's strict mode, which wants all of them required, refuses it (vLLM's and
    llama.cpp's decoders take it)."""
    names = list(dict.fromkeys(receptacles))
    world = {**_object({name: _receptacle(name) for name in names}), "required": []}
    top = _object(
        {"agent_location": _enum([MIDDLE_OF_ROOM, *names]), "inventory": _NAME, "world_state": world}
    )
    return {**top, "required": []}


__all__ = ["MAX_THOUGHT", "VERSION", "diff_schema", "policy_schema", "react_schema", "state_schema"]
