"""Model answers to `SymbolicState`s, robustly: the JSON object may be fenced, surrounded by text,
or written as a Python literal (single quotes, True/False/None).

Candidates are tried in order: the whole text, the bodies of ``` fences, then every balanced
`{...}` object in the text (string-aware brace matching). Each is read as JSON, then with
`ast.literal_eval` (a literal parser: nothing is ever executed), and validated with
`SymbolicState.from_dict`. The first valid one wins; if none is, `StateParseError` says why.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from implement.state import StateError, SymbolicState

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_MAX_SHOWN = 200
_JSON_WORDS = re.compile(r"\b(?:true|false|null)\b")
_PYTHON_WORDS = {"true": "True", "false": "False", "null": "None"}


class StateParseError(StateError):
    """A model answer holds no valid symbolic state."""


def parse_state(text: str) -> SymbolicState:
    """The symbolic state in a model answer; `StateParseError` when there is none."""
    return first_valid(text, SymbolicState.from_dict, "no valid state JSON in the model answer")


def first_valid(text: str, read: Callable[[dict[str, Any]], SymbolicState], missing: str) -> SymbolicState:
    """The state `read` makes of the first object in `text` it accepts (a `StateError` refuses one);
    `StateParseError` saying `missing`, the text and the first refusal when it accepts none."""
    problems: list[str] = []
    for data in json_objects(text):
        try:
            return read(data)
        except StateError as exc:
            problems.append(str(exc))
    why = f"; the closest object was invalid: {problems[0]}" if problems else ""
    raise StateParseError(f"{missing} {excerpt(text)!r}{why}")


def excerpt(text: str) -> str:
    """A model answer cut for an error message (the first 200 characters)."""
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every dict a model answer spells (whole text, fences, balanced objects), in that order."""
    for candidate in _candidates(text):
        data = _load(candidate)
        if data is not None:
            yield data


def _candidates(text: str) -> Iterator[str]:
    stripped = text.strip()
    if stripped:
        yield stripped
    for match in _FENCE.finditer(text):
        yield match.group(1).strip()
    yield from balanced_objects(text)


def balanced_objects(text: str) -> Iterator[str]:
    """Every top-level balanced `{...}` substring, left to right (braces in strings ignored)."""
    start = depth = 0
    quote: str | None = None
    escaped = False
    for i, char in enumerate(text):
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'" and depth > 0:
            quote = char
        elif char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]


def _load(candidate: str) -> Any:
    """The dict a candidate spells, as JSON or a Python literal; None if it is neither."""
    try:
        data = json.loads(candidate)
    except ValueError:
        data = _literal(candidate)
        if data is None:  # single quotes with JSON's true/false/null
            data = _literal(_JSON_WORDS.sub(lambda m: _PYTHON_WORDS[m.group(0)], candidate))
    return data if isinstance(data, dict) else None


def _literal(candidate: str) -> Any:
    try:
        return ast.literal_eval(candidate)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
