"""The one exception hierarchy of the package."""

from __future__ import annotations


class ImplementError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ImplementError, ValueError):
    """A configuration file, variable or flag is invalid."""


class DataError(ImplementError):
    """Game data is missing, corrupt or not where it was expected."""


class EnvError(ImplementError):
    """The environment was used against its contract (step before reset, after done...)."""


class AgentError(ImplementError, RuntimeError):
    """An agent was used against its contract (act before reset...)."""


class ContractError(ImplementError):
    """A component broke its contract (found by `check_agent`, `check_world_model`)."""


class UnknownNameError(ImplementError):
    """A registry was asked for a name it does not hold."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; expected one of: {', '.join(sorted(valid))}")
