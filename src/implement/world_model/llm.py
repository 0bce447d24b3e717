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
- `dialect="reference"` (`world_model.dialect`): prompts in the layout of the paper's own
  code, states and conditions in its conventions, answers read with `from_reference`, no
  schema sent (its checkpoints answer Python literals). Going to a closed receptacle never
  visited is then asked as the reference does: the arrival without object lists, then
  "open X" from that receptacle (object lists only), whose listing is spliced into each
  arrival sample; an arrival whose opening answer is unusable keeps its own listing.
- `format="diff"` (`world_model.format`): both modes answer the compact diff
  (`implement.state.state_diff`, schema `diff_schema`), applied to the state the prompt gave;
  an answer holding no valid diff is a parse failure as above (dropped, or the text parser for
  `[PER]`). Perception uses the diff too: one answer convention per model (a checkpoint
  curated in `diff` learns one), and `[PER]` runs every step, so it saves as much as `[PRE]`.
  The reference dialect has no diff format (`ConfigError`).
- Every prediction completion that holds no state is counted in `stats.dropped_samples`
  (beside `parse_failures`, which counts perception answers too); reports show it
  (`implement wm eval`).
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from implement.errors import ConfigError
from implement.llm.base import ChatModel, LLMError, Message, Schema, Usage
from implement.metaicl import Conditions, select_conditions
from implement.prompts.schemas import diff_schema, state_schema
from implement.prompts.world_model import DIFF, STATE, check_format, perception_messages, prediction_messages
from implement.state import ReceptacleState, SymbolicState, apply_diff
from implement.world_model.base import (
    Perceived,
    closed_unvisited_target,
    is_information_gathering,
    visible_receptacles,
)
from implement.world_model.dialect import IMPLEMENT, REFERENCE, check_dialect, from_reference
from implement.world_model.parsing import StateParseError, first_valid, parse_state
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
    dropped_samples: int = 0  # prediction completions discarded as unparseable

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
        dialect: str = IMPLEMENT,
        format: str = STATE,
    ) -> None:
        if max_tokens < 1:
            raise ConfigError(f"world_model.max_tokens must be >= 1, got {max_tokens}")
        self.dialect = check_dialect(dialect)
        self.format = check_format(format, dialect)
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
            prev,
            seen.action,
            seen.observation,
            succeeded=seen.success,
            visible=visible,
            frame=seen.frame,
            dialect=self.dialect,
            format=self.format,
        )
        self.stats.requests += 1
        try:
            (completion, *_) = await self.chat_model.chat(
                messages, n=1, temperature=0.0, max_tokens=self.max_tokens, schema=self._schema(prev)
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
            return self._parse(completion.text, prev)
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
        if self.dialect == REFERENCE:  # its layout has no note: the opening is a second request
            shown = replace(selected, object_lists={}) if closed is not None else selected
            messages = prediction_messages(state, action, shown, dialect=REFERENCE)
        else:
            messages = prediction_messages(state, action, selected, imagine_opened=closed, format=self.format)
        texts = await self._sample(messages, samples, temperature, state)
        predicted = [sample for sample in self._read_samples(texts, action, state) if sample is not None]
        if closed is not None and self.dialect == REFERENCE and predicted:
            predicted = await self._splice_opened(predicted, state, closed, selected, temperature)
        if not predicted:
            self.stats.empty_predictions += 1
            logger.warning("no usable prediction for %r: all %d samples unparseable", action, len(texts))
        return [_keep_closed(s, closed) for s in predicted] if closed is not None else predicted

    async def _sample(
        self, messages: list[Message], n: int, temperature: float, state: SymbolicState
    ) -> list[str]:
        """The texts of `n` completions of one request (counted; a failed request raises)."""
        self.stats.requests += 1
        try:
            completions = await self.chat_model.chat(
                messages, n=n, temperature=temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                schema=self._schema(state),
            )  # fmt: skip
        except LLMError:
            self.stats.request_errors += 1
            raise
        self.stats.samples += len(completions)
        return [completion.text for completion in completions]

    def _read_samples(
        self, texts: list[str], action: str, given: SymbolicState
    ) -> list[SymbolicState | None]:
        """The state each text holds (a diff: applied to `given`); None for those that hold none
        (dropped and counted)."""
        states: list[SymbolicState | None] = []
        for text in texts:
            try:
                states.append(self._parse(text, given))
            except StateParseError as exc:
                self.stats.parse_failures += 1
                self.stats.dropped_samples += 1
                logger.debug("prediction sample for %r dropped: %s", action, exc)
                states.append(None)
        return states

    async def _splice_opened(
        self,
        arrivals: list[SymbolicState],
        state: SymbolicState,
        receptacle: str,
        selected: Conditions,
        temperature: float,
    ) -> list[SymbolicState]:
        """The reference's "open X" from X, one sample per arrival, its listing of X put into it."""
        there = replace(state, agent_location=receptacle)
        opening = f"open {receptacle}"
        shown = Conditions(object_lists=selected.object_lists)
        messages = prediction_messages(there, opening, shown, dialect=REFERENCE)
        texts = await self._sample(messages, len(arrivals), temperature, there)
        opened = self._read_samples(texts, opening, there)
        spliced = []
        for i, arrival in enumerate(arrivals):
            inside = opened[i] if i < len(opened) else None  # fewer completions than asked for
            if inside is not None:
                listing = replace(
                    arrival.receptacle(receptacle), objects=inside.receptacle(receptacle).objects
                )
                arrival = replace(arrival, world_state={**arrival.world_state, receptacle: listing})
            spliced.append(arrival)
        return spliced

    def _parse(self, text: str, given: SymbolicState) -> SymbolicState:
        """The state an answer holds: a diff applied to `given` (`diff`), else a whole state."""
        if self.format == DIFF:
            return parse_diff(text, given)
        return from_reference(text) if self.dialect == REFERENCE else parse_state(text)

    def _schema(self, state: SymbolicState) -> Schema | None:
        """The answer's schema: a state (or diff) over the receptacles `state` knows (none before
        any is known, nor in the reference's dialect, whose answers are Python literals)."""
        if self.dialect == REFERENCE or not state.world_state:
            return None
        schema = diff_schema if self.format == DIFF else state_schema
        return schema(list(state.world_state))


def parse_diff(text: str, state: SymbolicState) -> SymbolicState:
    """`state` with the compact diff a model answer holds applied; `StateParseError` if none is valid."""
    return first_valid(text, lambda data: apply_diff(state, data), "no valid diff JSON in the model answer")


def _parsed(prev: SymbolicState, seen: Perceived) -> SymbolicState:
    """The text parser's reading of `seen`: an action said to have failed changes nothing."""
    return prev if seen.succeeded is False else update_state(prev, seen.action, seen.observation)


def _keep_closed(state: SymbolicState, receptacle: str) -> SymbolicState:
    """Arriving does not open it: imagined contents stay listed, `open` false, `visited` true."""
    rec = state.receptacle(receptacle)
    fixed = ReceptacleState(visited=True, open=False, objects=rec.objects)
    return replace(state, world_state={**state.world_state, receptacle: fixed})
