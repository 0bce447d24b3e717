"""Structured outputs over real HTTP: the schema forms, the probe, the structured modes, the cache,
cached-token pricing, and the scripted backend holding answers to the schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from fake_openai import FakeOpenAIServer
from implement.llm import LLMError, ResponseCache
from implement.llm.base import Completion, Message, Schema, Usage
from implement.llm.cache import CachedChatModel
from implement.llm.openai_chat import OpenAIChatModel, request_cost
from implement.llm.scripted import Script, ScriptedChatModel
from implement.serve.openai_app import request_schema
from servers import serving

CHOICE: Schema = {
    "type": "object",
    "properties": {"action": {"type": "string", "enum": ["go to fridge 1", "look"]}},
    "required": ["action"],
    "additionalProperties": False,
}
ASK: list[Message] = [{"role": "user", "content": "What now?"}]


class SchemaEcho:
    """A model that answers, inside the probe's or any schema, the schema's first enum value (as a
    constrained decoder might), and plain text without a schema; it records each request's schema."""

    name = "schema-echo"
    identity = "test:schema-echo"
    schema_support = "constrained"

    def __init__(self) -> None:
        self.usage = Usage()
        self.schemas: list[Schema | None] = []

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: Schema | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        self.schemas.append(schema)
        self.usage.record(completions=n)
        if schema is None:
            return [Completion("free text")] * n
        key, spec = next(iter(schema["properties"].items()))
        return [Completion(f'{{"{key}": "{spec["enum"][0]}"}}')] * n


def client(url: str, **options: Any) -> OpenAIChatModel:
    return OpenAIChatModel("fake-model", base_url=url, api_key="k", max_retries=0, timeout=5, **options)


def test_the_probe_finds_the_form_the_server_honours_and_schemas_then_constrain() -> None:
    echo = SchemaEcho()
    with FakeOpenAIServer(chat_model=echo).running() as url:
        model = client(url)
        assert model.schema_support == "unknown"
        (answer,) = asyncio.run(model.chat(ASK, schema=CHOICE))
    assert model.schema_support == "constrained" and model.schema_form == "json_schema"
    assert answer.text == '{"action": "go to fridge 1"}'
    assert echo.schemas[-1] == CHOICE  # the schema travelled over HTTP unchanged
    assert model.usage.requests == 2  # the probe once, then the request


def test_a_server_that_ignores_schemas_is_found_out() -> None:
    echo = SchemaEcho()
    with FakeOpenAIServer(chat_model=echo, honor_schema=False).running() as url:
        auto = client(url)
        (answer,) = asyncio.run(auto.chat(ASK, schema=CHOICE))
        assert auto.schema_support == "unconstrained" and answer.text == "free text"
        strict = client(url, structured="on")
        with pytest.raises(LLMError, match="honours no JSON-schema form"):
            asyncio.run(strict.chat(ASK, schema=CHOICE))
    assert echo.schemas.count(None) == 7  # each client probed three forms; one plain request got through


def test_structured_off_sends_no_schema_and_no_probe() -> None:
    echo = SchemaEcho()
    with FakeOpenAIServer(chat_model=echo).running() as url:
        model = client(url, structured="off")
        (answer,) = asyncio.run(model.chat(ASK, schema=CHOICE))
    assert answer.text == "free text" and echo.schemas == [None] and model.usage.requests == 1


def test_request_schema_reads_every_form() -> None:
    forms = [
        {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": CHOICE}}},
        {"response_format": {"type": "json_object", "schema": CHOICE}},
        {"guided_json": CHOICE},
    ]
    assert [request_schema(body) for body in forms] == [CHOICE] * 3
    assert request_schema({"response_format": {"type": "text"}}) is None


def test_the_schema_is_part_of_the_cache_key(tmp_path: Path) -> None:
    inner = SchemaEcho()
    model = CachedChatModel(inner, ResponseCache(tmp_path / "cache.sqlite"))
    other = {**CHOICE, "properties": {"action": {"type": "string", "enum": ["look"]}}}
    texts = [asyncio.run(model.chat(ASK, schema=s))[0].text for s in (CHOICE, other, CHOICE, None)]
    assert texts == [
        '{"action": "go to fridge 1"}',
        '{"action": "look"}',
        '{"action": "go to fridge 1"}',
        "free text",
    ]
    assert inner.schemas == [CHOICE, other, None]  # the third request was a cache hit


def test_the_scripted_backend_holds_answers_to_the_schema() -> None:
    script = Script.from_dict(
        {"rules": [{"match": "What", "responses": ['{"action": "look"}', "go to fridge 1"]}]}
    )
    model = ScriptedChatModel(script, constrained=True)
    assert asyncio.run(model.chat(ASK, schema=CHOICE))[0].text == '{"action": "look"}'
    with pytest.raises(LLMError, match="breaks the request's JSON schema"):
        asyncio.run(model.chat(ASK, schema=CHOICE))
    assert asyncio.run(model.chat(ASK))[0].text == '{"action": "look"}'  # no schema: anything goes
    loose = ScriptedChatModel(script)  # unconstrained, as a server that ignores schemas
    assert loose.schema_support == "unconstrained"
    assert [asyncio.run(loose.chat(ASK, schema=CHOICE))[0].text for _ in range(2)] == [
        "go to fridge 1",
        '{"action": "look"}',
    ]


def test_cached_prompt_tokens_are_counted_and_priced() -> None:
    app = FastAPI()
    app.get("/health")(lambda: {"status": "ok"})

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> dict[str, Any]:
        await request.json()
        return {
            "id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 100, "total_tokens": 2100,
                      "prompt_tokens_details": {"cached_tokens": 1536}},
        }  # fmt: skip

    with serving(app) as root:
        model = OpenAIChatModel("gpt-4.1-mini", base_url=f"{root}/v1", api_key="k", max_retries=0)
        (answer,) = asyncio.run(model.chat(ASK))
    price = (0.4, 1.6, 0.1)  # the built-in table's gpt-4.1-mini
    assert model.usage.cached_prompt_tokens == 1536
    assert answer.cost == pytest.approx(request_cost(price, 2000, 1536, 100))
    assert answer.cost == pytest.approx((464 * 0.4 + 1536 * 0.1 + 100 * 1.6) / 1e6)
