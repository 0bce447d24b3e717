"""How a configuration field is declared and checked: its help text, its allowed range or
choices, whether it is a secret, and the coercion of a value (from TOML, an environment
variable or a flag) to the field's type. `implement.config` declares the sections with them.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from implement.errors import ConfigError

# Each bound's words and its test (`value OP bound` holds for an allowed value).
_BOUNDS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "ge": (">=", operator.ge), "gt": (">", operator.gt), "le": ("<=", operator.le), "lt": ("<", operator.lt),
}  # fmt: skip


def config_field(
    default: Any,
    help: str,
    *,
    secret: bool = False,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A field with its help text, its allowed range or choices, and whether it is a secret (never shown)."""
    bounds: dict[str, Any] = {
        k: v for k, v in {"ge": ge, "gt": gt, "le": le, "lt": lt}.items() if v is not None
    }
    if choices is not None:
        bounds["choices"] = choices
    return field(default=default, repr=not secret, metadata={"help": help, "secret": secret, **bounds})


def allowed(f: dataclasses.Field[Any]) -> str:
    """A field's allowed range in words (">= 0 and < 1", "one of auto, on, off"); empty: any value goes."""
    if "choices" in f.metadata:
        return "one of " + ", ".join(f.metadata["choices"])
    return " and ".join(f"{op} {f.metadata[k]:g}" for k, (op, _) in _BOUNDS.items() if k in f.metadata)


def _in_range(f: dataclasses.Field[Any], value: Any) -> bool:
    if "choices" in f.metadata:
        return value is None or value in f.metadata["choices"]
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return True
    return all(holds(value, f.metadata[k]) for k, (_, holds) in _BOUNDS.items() if k in f.metadata)


def check_range(f: dataclasses.Field[Any], value: Any, label: str) -> None:
    if not _in_range(f, value):
        raise ConfigError(f"{label} must be {allowed(f)}, got {value!r}")


def coerce(section: Any, name: str, value: Any, label: str) -> Any:
    """`value` as the type of `section.name`; `label` ("SOURCE: section.field") prefixes errors."""
    hint = typing.get_type_hints(type(section))[name]
    args = typing.get_args(hint)
    optional = (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    if value is None or (optional and isinstance(value, str) and value.lower() in ("", "none", "null")):
        if optional:
            return None
        raise ConfigError(f"{label} cannot be empty")
    if typing.get_origin(base) is dict:
        return _prices(value, label)
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if base is int and isinstance(value, bool):
            raise ValueError(value)
        return base(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{label} expects {base.__name__}, got {value!r}") from None


def _prices(value: Any, label: str) -> dict[str, list[float]]:
    """A price table: model -> [dollars per million input tokens, per million output tokens, and
    optionally per million cached input tokens (default: the input price)]."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{label} expects a JSON object, got {value!r}") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{label} expects a table of model = [input, output], got {value!r}")
    table = {}
    for model, pair in value.items():
        if not (
            isinstance(pair, list | tuple)
            and len(pair) in (2, 3)
            and all(isinstance(p, int | float) and not isinstance(p, bool) and p >= 0 for p in pair)
        ):
            raise ConfigError(
                f"{label}: {model!r} expects [input, output] or [input, output, cached input] dollars "
                f"(>= 0) per million tokens, got {pair!r}"
            )
        table[str(model)] = [float(p) for p in pair]
    return table
