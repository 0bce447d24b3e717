"""The symbolic world model: placement statistics (`placements`), the rule engine (`rules`), the model."""

from __future__ import annotations

from implement.world_model.symbolic.model import SymbolicWorldModel

__all__ = ["SymbolicWorldModel"]
