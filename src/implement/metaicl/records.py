"""MetaICL records: what earlier trials of one task showed, as plain JSON-ready data.

Condition 1 (`Conditions.object_lists`): receptacle -> the object types seen inside it.
Condition 2 (`Conditions.failed_actions`): the actions that failed, each with its context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FailedAction:
    """Condition 2: an action that failed, and the context it failed in."""

    action: str
    agent_location: str
    inventory: str
    target_state: dict[str, Any] | None = None  # the target receptacle's state then, if any


@dataclass
class Conditions:
    """MetaICL conditions of one task, gathered over its earlier trials."""

    object_lists: dict[str, list[str]] = field(default_factory=dict)  # receptacle -> object types seen there
    failed_actions: list[FailedAction] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"object_lists": self.object_lists, "failed_actions": [asdict(f) for f in self.failed_actions]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conditions:
        return cls(
            object_lists={str(k): list(v) for k, v in data.get("object_lists", {}).items()},
            failed_actions=[FailedAction(**f) for f in data.get("failed_actions", [])],
        )
