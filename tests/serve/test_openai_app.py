"""The OpenAI app (`implement.serve.openai_app`) and the test-side fake server with its faults, over
real HTTP: the official SDK and httpx as clients."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from fake_openai import FakeOpenAIServer, FaultPlan
from implement.llm.base import Completion, LLMError, Message, Schema, Usage
from implement.llm.scripted import Script
from implement.serve.openai_app import create_openai_app
from servers import free_port, serving

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
HELLO: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello there world"},
]


def sdk(base_url: str, call: Callable[[openai.AsyncOpenAI], Awaitable[T]], timeout: float = 10.0) -> T:
    """Run one SDK call against the server, with no client retries."""

    async def go() -> T:
        async with openai.AsyncOpenAI(
            base_url=base_url, api_key="k", max_retries=0, timeout=timeout
        ) as client:
            return await call(client)

    return asyncio.run(go())


def chat(base_url: str, n: int = 1, timeout: float = 10.0) -> Any:
    return sdk(base_url, lambda c: c.chat.completions.create(model="m", messages=HELLO, n=n), timeout)


def post(base_url: str, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    body = body if body is not None else {"model": "m", "messages": HELLO}
    return httpx.post(f"{base_url}/chat/completions", json=body, timeout=10, trust_env=False, **kwargs)


# -- answers -----------------------------------------------------------------------------------------


def test_echo_answer_is_a_valid_chat_completion() -> None:
    server = FakeOpenAIServer()
    with server.running() as url:
        answer = chat(url)
    assert answer.object == "chat.completion"
    assert answer.model == "m"
    [choice] = answer.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo[0]: hello there world"
    assert choice.finish_reason == "stop"
    assert answer.usage.prompt_tokens == 5  # "be brief" + "hello there world"
    assert answer.usage.completion_tokens == 4
    assert answer.usage.total_tokens == 9
    assert server.stats.to_dict() == {
        "requests": 1, "schema_probes": 0, "completed": 1, "choices_returned": 1, "faults": {},
        "unauthorized": 0, "bad_requests": 0,
    }  # fmt: skip


def test_script_answers_each_choice() -> None:
    script = Script.from_dict({"rules": [{"match": "hello", "responses": ["go north {sample}", "look"]}]})
    with FakeOpenAIServer(script).running() as url:
        answer = chat(url, n=3)
        again = chat(url)
    assert [c.message.content for c in answer.choices] == ["go north 0", "look", "go north 2"]
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert again.choices[0].message.content == "look"  # the rule's responses keep cycling


def test_n_choices_and_honor_n_false() -> None:
    honoring, ignoring = FakeOpenAIServer(), FakeOpenAIServer(honor_n=False)
    with honoring.running() as url:
        assert len(chat(url, n=5).choices) == 5
    with ignoring.running() as url:
        assert [c.message.content for c in chat(url, n=5).choices] == ["echo[0]: hello there world"]
    assert honoring.stats.choices_returned == 5
    assert ignoring.stats.choices_returned == 1


def test_models_health_and_bad_requests() -> None:
    server = FakeOpenAIServer(model="tiny")
    with server.running() as url:
        models = sdk(url, lambda c: c.models.list())
        root = url.removesuffix("/v1")
        assert httpx.get(f"{root}/health", trust_env=False).json() == {"status": "ok"}
        no_messages = post(url, {"model": "m", "messages": []})
        bad_n = post(url, {"model": "m", "messages": HELLO, "n": 0})
        not_json = httpx.post(f"{url}/chat/completions", content=b"{", trust_env=False)
    assert [m.id for m in models.data] == ["tiny"]
    for response in (no_messages, bad_n, not_json):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert server.stats.bad_requests == 3


def test_latency_is_respected_and_concurrent() -> None:
    with FakeOpenAIServer(latency=0.3).running() as url:
        start = time.perf_counter()
        chat(url)
        one = time.perf_counter() - start

        async def ten(client: openai.AsyncOpenAI) -> list[Any]:
            calls = [client.chat.completions.create(model="m", messages=HELLO) for _ in range(10)]
            return await asyncio.gather(*calls)

        start = time.perf_counter()
        answers = sdk(url, ten)
        many = time.perf_counter() - start
    assert 0.3 <= one < 1.5
    assert len(answers) == 10
    assert 0.3 <= many < 1.5  # the waits overlap: not 10 x 0.3 s


# -- faults ------------------------------------------------------------------------------------------


def only(kind: str, **kwargs: Any) -> FakeOpenAIServer:
    return FakeOpenAIServer(faults=FaultPlan(rate=1.0, kinds=(kind,), **kwargs))


def test_429_is_a_rate_limit_error_with_retry_after() -> None:
    server = only("429", retry_after=0.25)
    with server.running() as url, pytest.raises(openai.RateLimitError) as caught:
        chat(url)
    assert caught.value.response.headers["retry-after"] == "0.25"
    assert caught.value.response.headers["retry-after-ms"] == "250"
    assert caught.value.status_code == 429
    assert server.stats.faults == {"429": 1}
    assert server.stats.completed == 0


def test_500_is_an_internal_server_error() -> None:
    server = only("500")
    with server.running() as url, pytest.raises(openai.InternalServerError) as caught:
        chat(url)
    assert caught.value.status_code == 500
    assert server.stats.faults == {"500": 1}


def test_hang_times_the_client_out_while_other_requests_flow() -> None:
    server = only("hang", hang_seconds=30.0)
    with server.running() as url:
        start = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            chat(url, timeout=0.3)
        assert time.perf_counter() - start < 2.0
        root = url.removesuffix("/v1")
        assert httpx.get(f"{root}/health", trust_env=False, timeout=2).status_code == 200
        start = time.perf_counter()
    assert time.perf_counter() - start < 2.0  # the hung request does not hold the shutdown
    assert server.stats.faults == {"hang": 1}


def test_malformed_is_200_with_a_body_that_is_not_json() -> None:
    server = only("malformed")
    with server.running() as url:
        with pytest.raises(ValueError):  # json.JSONDecodeError, from the SDK's response parsing
            chat(url)
        raw = post(url)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw.text)
    assert server.stats.faults == {"malformed": 2}


def test_a_malformed_answer_does_not_use_up_a_script_turn() -> None:
    script = Script.from_dict({"rules": [{"match": "", "responses": ["first", "second"]}]})
    server = FakeOpenAIServer(script, faults=FaultPlan(rate=1.0, kinds=("malformed",)))
    with server.running() as url:
        assert post(url).status_code == 200  # the truncated body
        server.faults.rate = 0.0
        answer = chat(url)
    assert answer.choices[0].message.content == "first"


def test_short_returns_fewer_choices_but_not_for_n_1() -> None:
    server = only("short")
    with server.running() as url:
        four = chat(url, n=4)
        one = chat(url, n=1)
    assert [c.index for c in four.choices] == [0, 1, 2]
    assert len(one.choices) == 1
    assert server.stats.faults == {"short": 1}  # n == 1 is a normal answer
    assert server.stats.completed == 2
    assert server.stats.choices_returned == 4


def test_fault_rate_is_seeded_and_near_the_rate() -> None:
    def count_500s(seed: int) -> tuple[int, FakeOpenAIServer]:
        server = FakeOpenAIServer(faults=FaultPlan(rate=0.3, kinds=("500",), seed=seed))
        with server.running() as url, httpx.Client(trust_env=False, timeout=10) as client:
            body = {"model": "m", "messages": HELLO}
            codes = [client.post(f"{url}/chat/completions", json=body).status_code for _ in range(200)]
        assert set(codes) <= {200, 500}
        return codes.count(500), server

    first, server = count_500s(seed=7)
    again, _ = count_500s(seed=7)
    assert first == again  # deterministic
    assert 40 <= first <= 80  # ~ 0.3 x 200
    assert server.stats.faults == {"500": first}
    assert server.stats.completed == 200 - first
    assert server.stats.requests == 200


def test_mixed_faults_all_kinds_drawn() -> None:
    server = FakeOpenAIServer(faults=FaultPlan(rate=1.0, kinds=("429", "500", "malformed", "short"), seed=3))
    with server.running() as url, httpx.Client(trust_env=False, timeout=10) as client:
        body = {"model": "m", "messages": HELLO, "n": 2}
        for _ in range(40):
            client.post(f"{url}/chat/completions", json=body)
    assert set(server.stats.faults) == {"429", "500", "malformed", "short"}
    assert sum(server.stats.faults.values()) == 40


def test_fault_plan_checks_its_arguments() -> None:
    with pytest.raises(LLMError, match="rate"):
        FaultPlan(rate=1.5)
    with pytest.raises(LLMError, match="unknown fault kinds"):
        FaultPlan(rate=0.5, kinds=("timeout",))


# -- keys and shutdown -------------------------------------------------------------------------------


def test_require_key_gives_401_without_it_and_never_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-secret-1234"
    server = FakeOpenAIServer(require_key=secret)
    caplog.set_level(logging.DEBUG)
    with server.running(log_level="debug") as url:
        assert post(url).status_code == 401
        assert post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        with pytest.raises(openai.AuthenticationError):
            chat(url)  # the SDK sends "k"

        async def with_key(client: openai.AsyncOpenAI) -> Any:
            keyed = client.with_options(api_key=secret)
            return await keyed.chat.completions.create(model="m", messages=HELLO)

        answer = sdk(url, with_key)
    assert answer.choices[0].message.content == "echo[0]: hello there world"
    assert server.stats.unauthorized == 3
    assert server.stats.completed == 1
    assert secret not in caplog.text


def test_shutdown_is_prompt_with_a_hung_request_in_flight() -> None:
    server = only("hang", hang_seconds=30.0)
    outcome: dict[str, Any] = {}

    def hung_client(url: str) -> None:
        start = time.perf_counter()
        try:
            outcome["status"] = post(url).status_code
        except httpx.HTTPError as exc:
            outcome["error"] = type(exc).__name__
        outcome["seconds"] = time.perf_counter() - start

    with server.running() as url:
        thread = threading.Thread(target=hung_client, args=(url,))
        thread.start()
        while server.stats.requests == 0:  # the request has reached the server
            time.sleep(0.01)
        start = time.perf_counter()
    stopped = time.perf_counter() - start
    thread.join(5)
    assert stopped < 2.0
    assert not thread.is_alive()
    assert outcome["seconds"] < 3.0
    assert outcome.get("status") == 503 or "error" in outcome


def _serve_in_the_foreground(command: list[str], port: int) -> None:
    """Run a server command, ask it one chat request, stop it: it answers, then stops gracefully."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = post(f"http://127.0.0.1:{port}/v1")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, "the CLI server did not come up"
                time.sleep(0.1)
        assert response.json()["choices"][0]["message"]["content"] == "echo[0]: hello there world"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert b"Uvicorn running" in output
    assert b"Finished server process" in output  # a graceful stop


def test_cli_serves_in_the_foreground() -> None:
    port = free_port()
    _serve_in_the_foreground([sys.executable, "-m", "implement.serve.openai_app", "--port", str(port)], port)


def test_the_fake_servers_cli_serves_in_the_foreground() -> None:
    port = free_port()
    script = str(Path(__file__).parents[1] / "fake_openai.py")
    _serve_in_the_foreground([sys.executable, script, "--port", str(port), "--latency", "0.01"], port)


# -- the app on any chat model -----------------------------------------------------------------------


class Asked:
    """A chat model that keeps what it was asked, and fails on demand."""

    name, identity = "asked", "asked"

    def __init__(self, fail: bool = False) -> None:
        self.usage = Usage()
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    schema_support = "unconstrained"

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: Schema | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        self.calls.append(
            dict(messages=messages, n=n, temperature=temperature, max_tokens=max_tokens, top_p=top_p)
        )
        if self.fail:
            raise LLMError("out of memory")
        return [Completion(f"answer {i}") for i in range(n)]


def test_the_app_passes_sampling_settings_to_its_chat_model() -> None:
    model = Asked()
    app = create_openai_app(model, served_name="wm_metaicl")
    with serving(app) as root:
        models = sdk(f"{root}/v1", lambda c: c.models.list())
        answer = sdk(
            f"{root}/v1",
            lambda c: c.chat.completions.create(
                model="wm_metaicl", messages=HELLO, n=2, temperature=0.7, max_tokens=33, top_p=0.9
            ),
        )
        default = post(f"{root}/v1", {"messages": HELLO}).json()
    assert [m.id for m in models.data] == ["wm_metaicl"]
    assert [c.message.content for c in answer.choices] == ["answer 0", "answer 1"]
    assert answer.usage.completion_tokens == 4 and answer.model == "wm_metaicl"
    assert model.calls[0] == {"messages": HELLO, "n": 2, "temperature": 0.7, "max_tokens": 33, "top_p": 0.9}
    assert model.calls[1] == {"messages": HELLO, "n": 1, "temperature": 1.0, "max_tokens": 512, "top_p": 1.0}
    assert default["model"] == "wm_metaicl"


def test_a_failing_chat_model_is_a_500_and_a_key_is_checked() -> None:
    app = create_openai_app(Asked(fail=True), served_name="m", require_key="sk-1")
    with serving(app) as root:
        failed = post(f"{root}/v1", headers={"Authorization": "Bearer sk-1"})
        refused = post(f"{root}/v1")
        models = httpx.get(f"{root}/v1/models", trust_env=False)
    assert failed.status_code == 500 and "out of memory" in failed.json()["error"]["message"]
    assert refused.status_code == 401 and models.status_code == 401
