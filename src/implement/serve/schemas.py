"""The API's request and response bodies (pydantic): the seed's batch schema for `/generate_policy`,
and one sample per item for `/perception` and `/predict`.

States are the paper's symbolic state JSON (`agent_location`, `inventory`, `world_state`);
MetaICL conditions come per environment: `conditions_1` (receptacle -> object types seen
there) and `conditions_2` (failed actions with their context).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from implement.metaicl import Conditions, FailedAction
from implement.state import StateError, SymbolicState
from implement.world_model.base import Perceived


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class State(BaseModel):
    """A symbolic state, checked as the world model's parser checks it."""

    model_config = ConfigDict(extra="forbid")
    agent_location: str
    inventory: str
    world_state: dict[str, dict[str, Any]]

    @model_validator(mode="after")
    def _valid(self) -> State:
        try:
            self.symbolic()
        except StateError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def symbolic(self) -> SymbolicState:
        return SymbolicState.from_dict(self.model_dump())

    @classmethod
    def of(cls, state: SymbolicState) -> State:
        return cls.model_validate(state.to_dict())


class FailedActionModel(_Body):
    action: str
    agent_location: str
    inventory: str
    target_state: dict[str, Any] | None = None


def _conditions(
    object_lists: dict[str, list[str]] | None, failed: list[FailedActionModel] | None
) -> Conditions:
    return Conditions(
        object_lists=dict(object_lists or {}),
        failed_actions=[FailedAction(**f.model_dump()) for f in failed or []],
    )


class HistoryStep(_Body):
    """A step already taken: the command the environment ran, and whether it worked."""

    action: str
    succeeded: bool = True


class PolicyRequest(_Body):
    """One decision per environment, from the state the client perceived (see `/perception`)."""

    current_goals: list[str] = Field(description="the task sentence of each environment")
    current_states: list[State] = Field(description="each environment's current symbolic state")
    histories: list[list[HistoryStep]] = Field(description="the steps taken so far, oldest first")
    current_tasks: list[str] = Field(description="task types, e.g. pick_and_place_simple")
    admissible_commands: list[list[str]] | None = Field(
        default=None, description="each environment's admissible commands now (the planner needs them)"
    )
    model: str | None = Field(
        default=None, description="policy spec for this request (default: the server's)"
    )
    conditions_1: list[dict[str, list[str]]] | None = Field(
        default=None, description="MetaICL object lists per environment: receptacle -> object types"
    )
    conditions_2: list[list[FailedActionModel]] | None = Field(
        default=None, description="MetaICL failed actions per environment"
    )

    @model_validator(mode="after")
    def _same_lengths(self) -> PolicyRequest:
        n = len(self.current_goals)
        lists: dict[str, list[Any] | None] = {
            "current_states": self.current_states, "histories": self.histories,
            "current_tasks": self.current_tasks, "admissible_commands": self.admissible_commands,
            "conditions_1": self.conditions_1, "conditions_2": self.conditions_2,
        }  # fmt: skip
        wrong = [f"{name} has {len(v)}" for name, v in lists.items() if v is not None and len(v) != n]
        if wrong:
            raise ValueError(f"every list needs one entry per environment ({n} goals): " + ", ".join(wrong))
        return self

    def __len__(self) -> int:
        return len(self.current_goals)

    def conditions(self, i: int) -> Conditions:
        return _conditions(
            self.conditions_1[i] if self.conditions_1 else None,
            self.conditions_2[i] if self.conditions_2 else None,
        )


class PolicyResponse(BaseModel):
    actions: list[str]
    decisions: list[dict[str, Any]] = Field(description="reasoning, rounds, imagined outcomes, usage")


class PerceptionSample(_Body):
    action: str
    action_success: bool = Field(description="whether the environment ran the action (False: it failed)")
    old_state: State
    observation: str = ""
    frame: str | None = Field(
        default=None, description="the view after the action: base64 PNG, a data: URL or an http(s) URL"
    )
    other_receptacles: list[str] | None = Field(default=None, description="other receptacles in view")

    def perceived(self) -> Perceived:
        """The world model's input; a bare base64 frame becomes a PNG data: URL."""
        frame = self.frame
        if frame is not None and not frame.startswith(("data:", "http://", "https://")):
            frame = f"data:image/png;base64,{frame}"
        visible = tuple(self.other_receptacles) if self.other_receptacles is not None else None
        return Perceived(self.action, self.observation, frame, visible, succeeded=self.action_success)


class PerceptionRequest(_Body):
    samples: list[PerceptionSample]


class PredictionSample(_Body):
    state: State
    action: str
    conditions_1: dict[str, list[str]] | None = None
    conditions_2: list[FailedActionModel] | None = None

    def conditions(self) -> Conditions:
        return _conditions(self.conditions_1, self.conditions_2)


class PredictionRequest(_Body):
    samples: list[PredictionSample]
    n: int | None = Field(
        default=None, ge=1, le=64, description="Monte Carlo samples (default: the server's)"
    )


class StatesResponse(BaseModel):
    states: list[State]


class PredictionsResponse(BaseModel):
    predictions: list[list[State]]
