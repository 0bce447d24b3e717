"""World models: perception and prediction over the symbolic state."""

from __future__ import annotations

from implement.world_model.base import WorldModel, action_target, is_information_gathering

__all__ = ["WorldModel", "action_target", "is_information_gathering"]
