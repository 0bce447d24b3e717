"""The LLM world model: [PER]/[PRE] prompts, robust parsing, and predict/perceive over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from fake_openai import FakeOpenAIServer
from implement.config import LLMConfig
from implement.llm import make_chat_model
from implement.llm.base import Completion, LLMError, Message, Schema, Usage
from implement.llm.scripted import Script, ScriptedChatModel
from implement.metaicl import Conditions, FailedAction
from implement.prompts.world_model import (
    PER_TAG,
    PRE_TAG,
    SYSTEM_TEXT,
    answer_message,
    perception_messages,
    prediction_messages,
)
from implement.prompts.world_model import (
    VERSION as PROMPT_VERSION,
)
from implement.state import ReceptacleState, SymbolicState
from implement.world_model.base import Perceived, WorldModel
from implement.world_model.llm import LLMWorldModel
from implement.world_model.parsing import StateParseError, parse_state
from implement.world_model.perception import update_state

pytestmark = pytest.mark.timeout(60)

START = SymbolicState(
    agent_location="countertop 1",
    inventory="nothing",
    world_state={
        "countertop 1": ReceptacleState(True, "N/A", ("apple 1",)),
        "shelf 1": ReceptacleState(),
        "fridge 1": ReceptacleState(open=False),
    },
)
AT_SHELF = SymbolicState(
    agent_location="shelf 1",
    inventory="nothing",
    world_state={**START.world_state, "shelf 1": ReceptacleState(True, "N/A", ("mug 1",))},
)
HOLDING = SymbolicState(
    agent_location="countertop 1",
    inventory="apple 1",
    world_state={**START.world_state, "countertop 1": ReceptacleState(True, "N/A", ())},
)
CONDITIONS = Conditions(
    object_lists={"shelf 1": ["mug", "vase"], "fridge 1": ["egg"]},
    failed_actions=[
        FailedAction("open shelf 1", "shelf 1", "nothing", {"visited": True, "open": "N/A", "objects": []})
    ],
)


def user_text(messages: list[Message]) -> str:
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part["type"] == "text")


# -- prompts -----------------------------------------------------------------------------------------


def test_perception_prompt_has_tag_and_inputs() -> None:
    messages = perception_messages(
        START, "go to shelf 1", "You arrive at shelf 1. On the shelf 1, you see a mug 1.", succeeded=True,
        visible=["countertop 1", "fridge 1"],
    )  # fmt: skip
    assert messages[0] == {"role": "system", "content": SYSTEM_TEXT}
    text = user_text(messages)
    assert text.startswith(PER_TAG + "\n")
    assert "Action: go to shelf 1" in text and "Succeeded: yes" in text
    assert START.to_json() in text
    assert "On the shelf 1, you see a mug 1." in text
    assert "Other receptacles visible: countertop 1, fridge 1" in text
    assert isinstance(messages[1]["content"], str)
    failed = user_text(perception_messages(START, "open shelf 1", "Nothing happens.", succeeded=False))
    assert "Succeeded: no" in failed and "Other receptacles visible: none" in failed


def test_perception_prompt_sends_a_frame_as_an_image_part() -> None:
    frame = "data:image/png;base64,iVBORw0KGgo="
    messages = perception_messages(START, "go to shelf 1", "", succeeded=True, frame=frame)
    parts = messages[1]["content"]
    assert isinstance(parts, list)
    assert parts[0]["type"] == "text" and parts[0]["text"].startswith(PER_TAG)
    assert parts[1] == {"type": "image_url", "image_url": {"url": frame}}
    assert "attached image" in parts[0]["text"]


def test_prediction_prompt_has_tag_state_and_conditions() -> None:
    text = user_text(prediction_messages(START, "go to shelf 1", CONDITIONS))
    assert text.startswith(PRE_TAG + "\n")
    assert "Action: go to shelf 1" in text and START.to_json() in text
    assert "- shelf 1: mug, vase" in text and "- open shelf 1 (agent at shelf 1" in text
    bare = user_text(prediction_messages(START, "go to shelf 1"))
    assert "Condition" not in bare and "closed and was never opened" not in bare
    note = user_text(prediction_messages(START, "go to fridge 1", imagine_opened="fridge 1"))
    assert "fridge 1 is closed and was never opened" in note
    assert json.loads(answer_message(START)["content"]) == START.to_dict()
    assert PROMPT_VERSION
    for key in ("agent_location", "inventory", "world_state", "visited", "open", "objects", "apple 1(hot)"):
        assert key in SYSTEM_TEXT


# -- parsing -----------------------------------------------------------------------------------------

GOOD = AT_SHELF.to_json()


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        f"```json\n{GOOD}\n```",
        f"Here's the new state:\n```\n{GOOD}\n```\nDone.",
        f"The state is {GOOD} -- and that's it {{not json}}",
        f"{{oops}} then {GOOD}",
        repr(AT_SHELF.to_dict()),  # Python literal: single quotes, True/False
        GOOD.replace('"', "'"),  # single quotes with JSON's true/false
    ],
)
def test_parse_state_reads_malformed_answers(text: str) -> None:
    assert parse_state(text) == AT_SHELF


@pytest.mark.parametrize(
    "text",
    ["", "I cannot help with that.", "{'a': 1}", '{"agent_location": "x"', "__import__('os').system('true')"],
)
def test_parse_state_rejects_garbage_with_a_clear_error(text: str) -> None:
    with pytest.raises(StateParseError, match="no valid state JSON"):
        parse_state(text)


def test_parse_state_says_why_an_object_was_invalid() -> None:
    with pytest.raises(StateParseError, match="missing keys"):
        parse_state('{"agent_location": "x", "inventory": "nothing"}')


# -- predict and perceive over real HTTP -------------------------------------------------------------


@pytest.fixture
def server_url() -> Iterator[tuple[FakeOpenAIServer, str]]:
    garbage = "sorry, no idea"
    fenced = f"```json\n{GOOD}\n```"
    arrived_fridge = SymbolicState(
        agent_location="fridge 1",
        inventory="nothing",
        world_state={**START.world_state, "fridge 1": ReceptacleState(True, True, ("egg 1", "milk 1"))},
    ).to_json()
    script = Script.from_dict(
        {
            "rules": [
                {"match": r"^\[PRE\].*Action: go to fridge 1", "responses": [arrived_fridge]},
                {
                    "match": r"^\[PRE\].*Action: go to shelf 1",
                    "responses": [GOOD, garbage, fenced, "{broken"],
                },
                {"match": r"^\[PRE\].*Action: take apple 1", "responses": [HOLDING.to_json()]},
                {"match": r"^\[PRE\].*Action: go to countertop 1", "responses": [garbage]},
                {"match": r"^\[PER\].*Action: go to shelf 1", "responses": [garbage]},
                {"match": r"^\[PER\].*Action: take apple 1", "responses": [repr(HOLDING.to_dict())]},
            ]
        }
    )
    server = FakeOpenAIServer(script)
    with server.running() as url:
        yield server, url


def model_at(url: str, **kwargs: Any) -> LLMWorldModel:
    chat = make_chat_model(
        f"openai:fake-model@{url}", LLMConfig(api_key="sk-test", max_retries=0, timeout=5.0)
    )
    return LLMWorldModel(chat, **kwargs)


def test_predict_samples_information_gathering_and_drops_garbage(
    server_url: tuple[FakeOpenAIServer, str],
) -> None:
    server, url = server_url
    wm = model_at(url)
    predicted = asyncio.run(wm.predict(START, "go to shelf 1", CONDITIONS, n=8))
    assert server.stats.choices_returned == 8
    assert predicted == [AT_SHELF] * 4  # GOOD and fenced kept, garbage and "{broken" dropped
    assert wm.stats.requests == 1 and wm.stats.samples == 8 and wm.stats.parse_failures == 4
    assert wm.stats.dropped_samples == 4
    assert wm.stats.empty_predictions == 0
    assert wm.usage.completions == 8 + server.stats.schema_probes  # the client probed its endpoint first


def test_predict_other_actions_get_one_sample(server_url: tuple[FakeOpenAIServer, str]) -> None:
    server, url = server_url
    wm = model_at(url)

    async def both() -> tuple[
        list[SymbolicState], list[SymbolicState]
    ]:  # one loop: the client is bound to it
        one = await wm.predict(START, "take apple 1 from countertop 1", CONDITIONS, n=5)
        return one, await wm.predict(START, "go to shelf 1", None, n=2)

    predicted, explicit = asyncio.run(both())
    assert predicted == [HOLDING]
    assert len(explicit) == 1  # GOOD kept, garbage dropped
    assert server.stats.requests == 2 and server.stats.choices_returned == 1 + 2


def test_predict_all_samples_garbage_returns_empty_and_counts(
    server_url: tuple[FakeOpenAIServer, str],
) -> None:
    _, url = server_url
    wm = model_at(url)
    assert asyncio.run(wm.predict(AT_SHELF, "go to countertop 1", n=3)) == []  # visited: one sample
    assert wm.stats.parse_failures == 1 and wm.stats.empty_predictions == 1


def test_predict_closed_openable_receptacle_imagines_its_contents(
    server_url: tuple[FakeOpenAIServer, str],
) -> None:
    _, url = server_url
    wm = model_at(url)
    predicted = asyncio.run(wm.predict(START, "go to fridge 1", CONDITIONS, n=2))
    assert len(predicted) == 2
    for state in predicted:
        fridge = state.world_state["fridge 1"]
        assert fridge == ReceptacleState(visited=True, open=False, objects=("egg 1", "milk 1"))
        assert state.agent_location == "fridge 1"


def test_perceive_parses_the_model_answer_and_falls_back_counted(
    server_url: tuple[FakeOpenAIServer, str],
) -> None:
    _, url = server_url
    wm: WorldModel = model_at(url)
    assert isinstance(wm, LLMWorldModel)
    observation = "You pick up the apple 1 from the countertop 1."
    arrive = "You arrive at shelf 1. On the shelf 1, you see a mug 1."

    async def both() -> tuple[SymbolicState, SymbolicState]:
        took = await wm.perceive(START, Perceived("take apple 1 from countertop 1", observation))
        assert wm.stats.fallbacks == 0
        return took, await wm.perceive(START, Perceived("go to shelf 1", arrive))

    took, perceived = asyncio.run(both())
    assert took == HOLDING  # the model's answer (a Python literal), parsed
    assert perceived == update_state(START, "go to shelf 1", arrive) == AT_SHELF
    assert wm.stats.fallbacks == 1 and wm.stats.parse_failures == 1 and wm.stats.requests == 2


# -- in process: what is sent --------------------------------------------------------------------------


class Recorder:
    """A chat model that records its calls and answers from a script."""

    def __init__(self, script: Script | None = None, fail: bool = False) -> None:
        self.name = "recorder"
        self.inner = ScriptedChatModel(script or Script(default=GOOD))
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    @property
    def usage(self) -> Usage:
        return self.inner.usage

    schema_support = "unconstrained"

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: Schema | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        self.calls.append(
            {"messages": messages, "n": n, "temperature": temperature, "schema": schema, "top_p": top_p}
        )
        if self.fail:
            raise LLMError("endpoint down")
        return await self.inner.chat(messages, n=n, temperature=temperature, max_tokens=max_tokens)


def test_sampling_settings_and_conditions_sent() -> None:
    rec = Recorder()
    wm = LLMWorldModel(rec, temperature=0.7)
    asyncio.run(wm.predict(START, "go to shelf 1", CONDITIONS, n=4))
    asyncio.run(wm.predict(AT_SHELF, "go to countertop 1", CONDITIONS, n=4))
    asyncio.run(wm.perceive(START, Perceived("look", "Nothing happens.", frame="http://x/frame.png")))
    gather, other, per = rec.calls
    assert (gather["n"], gather["temperature"]) == (4, 0.7)
    assert (other["n"], other["temperature"]) == (1, 0.0)
    assert (per["n"], per["temperature"]) == (1, 0.0)
    assert "Condition 1" in user_text(gather["messages"])  # information gathering: object lists
    other_text = user_text(other["messages"])
    assert "Condition 1" not in other_text and "Condition 2" in other_text
    assert "closed and was never opened" not in user_text(gather["messages"])
    asyncio.run(wm.predict(START, "go to fridge 1", n=4))
    assert "fridge 1 is closed and was never opened" in user_text(rec.calls[-1]["messages"])
    assert rec.calls[-1]["n"] == 4
    assert per["messages"][1]["content"][1]["type"] == "image_url"
    assert "Succeeded: no" in user_text(per["messages"])


def test_request_errors_raise_and_are_counted() -> None:
    """A dead endpoint is no prediction and no perception: the caller's episode fails with it."""
    wm = LLMWorldModel(Recorder(fail=True))
    arrive = "You arrive at shelf 1. On the shelf 1, you see a mug 1."
    with pytest.raises(LLMError, match="endpoint down"):
        asyncio.run(wm.predict(START, "go to shelf 1"))
    with pytest.raises(LLMError, match="endpoint down"):
        asyncio.run(wm.perceive(START, Perceived("go to shelf 1", arrive)))
    assert wm.stats.to_dict() == {
        "requests": 2,
        "samples": 0,
        "parse_failures": 0,
        "fallbacks": 0,
        "request_errors": 2,
        "empty_predictions": 0,
        "dropped_samples": 0,
    }


def test_an_unusable_perception_keeps_the_clients_word_that_the_action_failed() -> None:
    wm = LLMWorldModel(Recorder(Script(default="no state here")))
    arrive = "You arrive at shelf 1. On the shelf 1, you see a mug 1."
    failed = Perceived("go to shelf 1", arrive, succeeded=False)  # the client's word over the text
    assert asyncio.run(wm.perceive(START, failed)) == START
    assert (wm.stats.fallbacks, wm.stats.parse_failures, wm.stats.request_errors) == (1, 1, 0)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        LLMWorldModel(Recorder(), max_tokens=0)
    with pytest.raises(ValueError, match="n must be"):
        asyncio.run(LLMWorldModel(Recorder()).predict(START, "go to shelf 1", n=0))
