"""`LLMWorldModel`: the unified `[PER]`/`[PRE]` world model behind any chat model.

The paper's fine-tuned model served by vLLM (`openai:wm_metaicl@http://localhost:8002/v1`)
or any chat LLM zero-shot: the prompts are the same (`implement.prompts.world_model`).

- Every request carries the JSON schema of a state over the receptacles known so far
  (`implement.prompts.schemas.state_schema`), for backends that decode under schemas.
- `perceive` sends one `[PER]` request (temperature 0) with what `Perceived` holds (the
  text, a frame, the receptacles in view, whether the action succeeded) and parses the
  answer. An answer that holds no valid state falls back to the exact text parser
  (`update_state`; an action said to have failed changes nothing); every fallback is counted
  in `stats` and logged.
- `predict` sends one `[PRE]` request with the MetaICL conditions selected for the action
  (`select_conditions`). Information-gathering actions (going to or opening an unvisited
  receptacle) get `n` samples at `temperature` (and `top_p`); every other action gets one
  sample, at temperature 0 (`greedy_certain`, ours) or at `temperature` (the paper's code).
  Unparseable samples are dropped and counted.
- A request that fails for good (`LLMError`) is counted in `stats.request_errors` and
  raised, by both: a dead endpoint is an error of the episode, never an imagined outcome.
- All samples unparseable: `predict` returns an empty list (counted in
  `stats.empty_predictions`, logged as a warning). The caller decides what an action with
  no imagined outcome means (e.g. `predicted or [state]`); a made-up "unchanged" state would
  look like a confident prediction that the action fails.
- Going to a closed openable receptacle never visited: the real game shows only "The X is
  closed.", but the useful imagination is what is inside. The `[PRE]` prompt carries a note
  asking the model to also imagine what opening it would show, listed under the receptacle
  with `"open": false` (the convention of `SymbolicWorldModel`); the samples' `open` of that
  receptacle is forced back to false and `visited` to true. One request, not a second
  "open X" round trip per sample.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from implement.errors import ConfigError
from implement.llm.base import ChatModel, LLMError, Schema, Usage
from implement.metaicl import Conditions, select_conditions
from implement.prompts.schemas import state_schema
from implement.prompts.world_model import perception_messages, prediction_messages
from implement.state import ReceptacleState, SymbolicState
from implement.world_model.base import (
    Perceived,
    closed_unvisited_target,
    is_information_gathering,
    visible_receptacles,
)
from implement.world_model.parsing import StateParseError, parse_state
from implement.world_model.perception import update_state

logger = logging.getLogger(__name__)


@dataclass
class WorldModelStats:
    """What an `LLMWorldModel` has asked and how its answers fared."""

    requests: int = 0  # chat requests sent (perception and prediction)
    samples: int = 0  # completions received
    parse_failures: int = 0  # completions that held no valid state (dropped, or a fallback)
    fallbacks: int = 0  # perceptions answered by the text parser instead of the model
    request_errors: int = 0  # requests that failed for good (LLMError)
    empty_predictions: int = 0  # predict calls that returned no state (every sample failed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LLMWorldModel:
    """Perception and prediction by a chat model over the paper's symbolic state."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        greedy_certain: bool = True,
        max_tokens: int = 2048,
        seed: int = 0,
        max_object_lists: int = 15,
        max_failed_actions: int = 15,
    ) -> None:
        if max_tokens < 1:
            raise ConfigError(f"world_model.max_tokens must be >= 1, got {max_tokens}")
        self.chat_model = chat_model
        self.name = f"llm:{chat_model.name}"
        self.temperature = temperature
        self.top_p = top_p
        self.greedy_certain = greedy_certain
        self.max_tokens = max_tokens
        self.seed = seed
        self.max_object_lists = max_object_lists
        self.max_failed_actions = max_failed_actions
        self.stats = WorldModelStats()

    @property
    def usage(self) -> Usage:
        """Tokens, requests and cost of the underlying chat model."""
        return self.chat_model.usage

    async def perceive(self, prev: SymbolicState, seen: Perceived) -> SymbolicState:
        """The state after `seen.action`, read by the model from the text (and frame, an image URL)."""
        visible = seen.visible
        if visible is None:
            visible = tuple(visible_receptacles(prev, seen.action, seen.observation))
        messages = perception_messages(
            prev, seen.action, seen.observation, succeeded=seen.success, visible=visible, frame=seen.frame
        )
        self.stats.requests += 1
        try:
            (completion, *_) = await self.chat_model.chat(
                messages, n=1, temperature=0.0, max_tokens=self.max_tokens, schema=_schema(prev)
            )
        except LLMError:
            self.stats.request_errors += 1
            raise
        except ValueError as exc:  # no completion came back
            self.stats.fallbacks += 1
            logger.warning("perception answer missing after %r (%s); text parser used", seen.action, exc)
            return _parsed(prev, seen)
        self.stats.samples += 1
        try:
            return parse_state(completion.text)
        except StateParseError as exc:
            self.stats.parse_failures += 1
            self.stats.fallbacks += 1
            logger.warning("perception answer unparseable after %r (%s); text parser used", seen.action, exc)
            return _parsed(prev, seen)

    async def predict(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]:
        """Imagined states after `action`: `n` samples if it gathers information, else one.
        Empty when every sample was unparseable (counted in `stats`); a failed request raises."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        gathering = is_information_gathering(state, action)
        samples = n if gathering else 1
        temperature = self.temperature if gathering or not self.greedy_certain else 0.0
        selected = select_conditions(
            conditions,
            state,
            action,
            max_object_lists=self.max_object_lists,
            max_failed_actions=self.max_failed_actions,
            rng=random.Random(f"{self.seed}:{action}:{state.to_json(sort_keys=True)}"),
        )
        closed = closed_unvisited_target(state, action)
        messages = prediction_messages(state, action, selected, imagine_opened=closed)
        self.stats.requests += 1
        try:
            completions = await self.chat_model.chat(
                messages,
                n=samples,
                temperature=temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
                schema=_schema(state),
            )
        except LLMError:
            self.stats.request_errors += 1
            raise
        self.stats.samples += len(completions)
        predicted = []
        for completion in completions:
            try:
                sample = parse_state(completion.text)
            except StateParseError as exc:
                self.stats.parse_failures += 1
                logger.debug("prediction sample for %r dropped: %s", action, exc)
                continue
            predicted.append(_keep_closed(sample, closed) if closed is not None else sample)
        if not predicted:
            self.stats.empty_predictions += 1
            logger.warning(
                "no usable prediction for %r: all %d samples unparseable", action, len(completions)
            )
        return predicted


def _schema(state: SymbolicState) -> Schema | None:
    """The answer's schema: a state over the receptacles `state` knows (none before any is known)."""
    return state_schema(list(state.world_state)) if state.world_state else None


def _parsed(prev: SymbolicState, seen: Perceived) -> SymbolicState:
    """The text parser's reading of `seen`: an action said to have failed changes nothing."""
    return prev if seen.succeeded is False else update_state(prev, seen.action, seen.observation)


def _keep_closed(state: SymbolicState, receptacle: str) -> SymbolicState:
    """Arriving does not open it: imagined contents stay listed, `open` false, `visited` true."""
    rec = state.receptacle(receptacle)
    fixed = ReceptacleState(visited=True, open=False, objects=rec.objects)
    return replace(state, world_state={**state.world_state, receptacle: fixed})
