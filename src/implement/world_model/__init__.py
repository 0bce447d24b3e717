"""World models: perception and prediction over the symbolic state, MetaICL conditions."""

from __future__ import annotations

from implement.world_model.base import (
    Conditions,
    FailedAction,
    WorldModel,
    action_target,
    is_information_gathering,
)

__all__ = ["Conditions", "FailedAction", "WorldModel", "action_target", "is_information_gathering"]
