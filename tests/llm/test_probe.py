"""The probe before a run: one request, no retry, no cache, and one line naming the model and the cause."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from fake_openai import FakeOpenAIServer, FaultPlan
from implement.config import LLMConfig
from implement.llm import make_chat_model
from implement.llm.base import ChatModel, Completion, LLMError, Message, Usage
from implement.llm.probe import PROBE_MESSAGES, PROBE_TOKENS, models_made, probe_model, probe_models
from servers import free_port, serving

pytestmark = pytest.mark.timeout(60)


def probe(model: ChatModel, timeout: float = 5.0) -> float:
    """Seconds the probe took (it passed)."""
    started = time.monotonic()
    asyncio.run(probe_model(model, timeout=timeout))
    return time.monotonic() - started


def probe_error(model: ChatModel, timeout: float = 5.0) -> tuple[str, float]:
    """The probe's error line and the seconds it took to fail."""
    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        asyncio.run(probe_model(model, timeout=timeout))
    message = str(caught.value)
    assert "\n" not in message
    return message, time.monotonic() - started


def http_model(url: str, name: str = "fake-model", **config: Any) -> ChatModel:
    return make_chat_model(f"openai:{name}@{url}", LLMConfig(**{"api_key": "k", **config}))


def test_a_served_model_passes_with_one_request() -> None:
    server = FakeOpenAIServer()
    with server.running() as url:
        probe(http_model(url))
    assert server.stats.requests == 1


def test_no_key_for_openai_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    message, seconds = probe_error(make_chat_model("openai:gpt-4o-mini", LLMConfig()))
    assert message == (
        "model 'gpt-4o-mini' at https://api.openai.com/v1: no API key is configured; "
        "set OPENAI_API_KEY or llm.api_key"
    )
    assert seconds < 1


def test_nothing_listening_fails_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    message, seconds = probe_error(http_model(url, "gpt-4o-mini", max_retries=6))
    assert (
        message
        == f"model 'gpt-4o-mini' at {url}: cannot connect: connection refused (is a server listening there?)"
    )
    assert seconds < 2  # no retries, whatever llm.max_retries says


def test_an_unknown_host_says_so() -> None:
    message, _ = probe_error(http_model("http://no-such-host.invalid/v1"))
    assert message.startswith("model 'fake-model' at http://no-such-host.invalid/v1: cannot connect: ")


@pytest.mark.parametrize(
    ("key", "cause"),
    [
        ("wrong", "the API key was refused (HTTP 401); check OPENAI_API_KEY or llm.api_key"),
        (None, "the server wants an API key (HTTP 401); set OPENAI_API_KEY or llm.api_key"),
    ],
)
def test_a_refused_or_missing_key(key: str | None, cause: str) -> None:
    server = FakeOpenAIServer(require_key="right")
    with server.running() as url:
        message, _ = probe_error(http_model(url, api_key=key))
    assert message == f"model 'fake-model' at {url}: {cause}"


def vllm_like(served: str) -> FastAPI:
    """An endpoint that, as vLLM does, answers 404 to a chat request for a model it does not serve."""
    app = FastAPI()
    app.get("/health")(lambda: {"status": "ok"})
    app.get("/v1/models")(lambda: {"object": "list", "data": [{"id": served, "object": "model"}]})

    @app.post("/v1/chat/completions")
    async def chat() -> JSONResponse:
        error = {"message": "The model does not exist.", "type": "NotFoundError", "code": 404}
        return JSONResponse({"error": error}, status_code=404)

    return app


def test_an_unknown_model_name_lists_the_served_ones() -> None:
    with serving(vllm_like("wm_metaicl")) as root:
        message, _ = probe_error(http_model(f"{root}/v1", "wm-typo"))
    assert message == f"model 'wm-typo' at {root}/v1: unknown model (HTTP 404); the server has: wm_metaicl"


def test_no_answer_in_time_is_one_request_that_times_out() -> None:
    server = FakeOpenAIServer(faults=FaultPlan(rate=1.0, kinds=("hang",), hang_seconds=20))
    with server.running() as url:
        message, seconds = probe_error(http_model(url, timeout=60.0), timeout=0.5)
    assert message == f"model 'fake-model' at {url}: no answer within 0.5 s"
    assert seconds < 3 and server.stats.requests == 1


def test_a_server_error_is_not_retried() -> None:
    server = FakeOpenAIServer(faults=FaultPlan(rate=1.0, kinds=("500",)))
    with server.running() as url:
        message, _ = probe_error(http_model(url, max_retries=6))
    assert message.startswith(f"model 'fake-model' at {url}: HTTP 500: ")
    assert server.stats.requests == 1


def test_the_probe_goes_past_the_response_cache(tmp_path: Path) -> None:
    server = FakeOpenAIServer()
    with server.running() as url:
        model = http_model(url, cache=str(tmp_path / "cache.sqlite"))
        asyncio.run(model.chat(PROBE_MESSAGES, max_tokens=PROBE_TOKENS))  # the probe's answer, cached
        probe(model)
        assert server.stats.requests == 2  # asked again, not read from the cache
    message, _ = probe_error(model)  # the server is gone: the cached answer does not hide it
    assert "connection refused" in message


class Broken:
    """An in-process model whose backend fails on every call."""

    name, identity, schema_support = "broken-gguf", "local:broken", "constrained"

    def __init__(self) -> None:
        self.usage = Usage()

    async def chat(self, messages: list[Message], **_: Any) -> list[Completion]:
        raise RuntimeError("the GGUF has no chat template; set llm.chat_format")


def test_in_process_models_answer_one_chat_call() -> None:
    scripted = make_chat_model("scripted:")
    probe(scripted)
    assert scripted.usage.requests == 1
    message, _ = probe_error(Broken())
    assert message == "model 'broken-gguf' cannot answer: the GGUF has no chat template; set llm.chat_format"


def test_the_models_a_build_makes_are_collected_and_probed_once_each() -> None:
    with models_made() as made:
        first, again = make_chat_model("scripted:"), make_chat_model("scripted:")
    make_chat_model("scripted:")  # outside: not collected
    assert made == [first, again]
    asyncio.run(probe_models(made))
    assert (first.usage.requests, again.usage.requests) == (1, 0)  # one identity, one probe
    with pytest.raises(LLMError, match="broken-gguf"):
        asyncio.run(probe_models([first, Broken()]))
