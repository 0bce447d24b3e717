"""The OpenAI-compatible client over real HTTP: faults, retries, n top-up, cache, secrets."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest

from fake_openai import FakeOpenAIServer, FaultPlan
from implement.config import LLMConfig
from implement.llm import LLMError, ResponseCache, make_chat_model
from implement.llm.cache import CachedChatModel
from implement.llm.openai_chat import OpenAIChatModel

KEY = "sk-test-0123456789-never-logged"


def client(url: str, **kwargs: object) -> OpenAIChatModel:
    options: dict = {"api_key": KEY, "timeout": 2.0, "max_retries": 8, "backoff": 0.01, "max_backoff": 0.05}
    return OpenAIChatModel("fake-model", base_url=url, **{**options, **kwargs})


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": "answer"}, {"role": "user", "content": f"question {i}"}]


def test_requests_count_tokens_and_latency() -> None:
    with FakeOpenAIServer().running() as url:
        model = client(url)
        (answer,) = asyncio.run(model.chat(ask(1), max_tokens=32))
    assert answer.text == "echo[0]: question 1"
    assert answer.prompt_tokens > 0 and answer.completion_tokens == 3 and answer.latency > 0
    assert model.usage.requests == 1 and model.usage.retries == 0 and model.usage.cost == 0.0


def test_200_requests_at_30_percent_faults_all_complete() -> None:
    server = FakeOpenAIServer(faults=FaultPlan(rate=0.3, seed=3, retry_after=0.01, hang_seconds=30))
    with server.running() as url:
        model = client(url, timeout=0.5, concurrency=20)

        async def run() -> list[list[str]]:
            answers = await asyncio.gather(*(model.chat(ask(i), n=2) for i in range(200)))
            return [[c.text for c in pair] for pair in answers]

        answers = asyncio.run(run())
    # a topped-up sample comes from a second request, so its sample index restarts: compare the content
    assert [[text.split(": ", 1)[1] for text in pair] for pair in answers] == [
        [f"question {i}"] * 2 for i in range(200)
    ]
    faults = server.stats.faults
    assert sum(faults.values()) >= 40 and set(faults) == {"429", "500", "hang", "malformed", "short"}
    # every fault but "short" costs one retry; a short answer is topped up instead
    assert model.usage.retries == sum(v for k, v in faults.items() if k != "short")
    assert {"429", "500", "timeout", "malformed"} <= set(model.usage.errors)


def test_a_request_that_never_succeeds_fails_clearly_after_bounded_retries() -> None:
    server = FakeOpenAIServer(faults=FaultPlan(rate=1.0, kinds=("500",)))
    with server.running() as url:
        model = client(url, max_retries=3)
        with pytest.raises(LLMError, match=r"after 4 attempts.*500"):
            asyncio.run(model.chat(ask(0)))
    assert server.stats.requests == 4 and model.usage.retries == 3


def test_n_is_topped_up_when_the_server_ignores_it() -> None:
    server = FakeOpenAIServer(honor_n=False)
    with server.running() as url:
        model = client(url)
        answers = asyncio.run(model.chat(ask(0), n=10, temperature=1.0))
    assert len(answers) == 10 and server.stats.requests == 10
    assert model.usage.completions == 10


def test_concurrency_limit_per_endpoint() -> None:
    with FakeOpenAIServer(latency=0.2).running() as url:
        first, second = client(url, concurrency=3), client(url, concurrency=3)

        async def run() -> float:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.gather(*(m.chat(ask(i)) for i in range(6) for m in (first, second)))
            return loop.time() - started

        elapsed = asyncio.run(run())
    assert elapsed >= 0.75  # 12 requests, 3 at a time across both clients of the endpoint: 4 rounds of 0.2 s


def test_cache_second_run_makes_no_http_request(tmp_path: Path) -> None:
    server = FakeOpenAIServer()
    with server.running() as url:

        def run() -> list[str]:
            model = CachedChatModel(client(url), ResponseCache(tmp_path / "cache.sqlite"))

            async def all_of_them() -> list[str]:
                answers = await asyncio.gather(*(model.chat(ask(i), n=3, temperature=1.0) for i in range(5)))
                return [c.text for pair in answers for c in pair]

            return asyncio.run(all_of_them())

        first = run()
        requests = server.stats.requests
        second = run()
    assert requests == 5 and server.stats.requests == 5
    assert second == first


def test_api_key_never_reaches_logs_errors_or_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeOpenAIServer(require_key=KEY)
    with server.running() as url:
        config = LLMConfig(api_key=KEY, cache=str(tmp_path / "c.sqlite"))
        model = make_chat_model(f"openai:fake-model@{url}", config)
        (answer,) = asyncio.run(model.chat(ask(0)))
        wrong = client(url, api_key=KEY + "-wrong")
        with pytest.raises(LLMError) as info:
            asyncio.run(wrong.chat(ask(1)))
    assert answer.text == "echo[0]: question 0"
    assert "401" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in caplog.text
    assert KEY.encode() not in (tmp_path / "c.sqlite").read_bytes()


def test_cost_from_the_configured_price_table() -> None:
    with FakeOpenAIServer().running() as url:
        model = make_chat_model(f"openai:priced@{url}", LLMConfig(prices={"priced": [1e6, 2e6]}))
        (answer,) = asyncio.run(model.chat(ask(0)))
    assert answer.cost == answer.prompt_tokens + 2 * answer.completion_tokens > 0
    assert model.usage.cost == answer.cost


def test_text_and_image_parts_travel_over_http() -> None:
    frame = "data:image/png;base64,iVBORw0KGgo="
    content = [
        {"type": "text", "text": "what is in the frame"},
        {"type": "image_url", "image_url": {"url": frame}},
    ]
    with FakeOpenAIServer().running() as url:
        (answer,) = asyncio.run(client(url).chat([{"role": "user", "content": content}]))
    assert answer.text == "echo[0]: what is in the frame"


def test_one_model_serves_several_event_loops() -> None:
    with FakeOpenAIServer().running() as url:
        model = client(url)
        first = asyncio.run(model.chat(ask(1)))
        second = asyncio.run(model.chat(ask(2)))
    assert [first[0].text, second[0].text] == ["echo[0]: question 1", "echo[0]: question 2"]


def test_clients_and_semaphores_are_held_per_loop_object() -> None:
    """A new loop never gets an old loop's client or semaphore, even where it reuses its id."""
    from implement.llm.openai_chat import _semaphores, endpoint_semaphore

    model = client("http://127.0.0.1:9/v1")

    async def grab() -> tuple[object, asyncio.Semaphore]:
        return model.client, endpoint_semaphore(model.endpoint, 1)

    loop = asyncio.new_event_loop()
    first_client, first_semaphore = loop.run_until_complete(grab())
    assert loop in model._clients and loop in _semaphores
    loop.close()
    del loop
    gc.collect()
    assert len(model._clients) == 0 and all(model.endpoint not in s for s in _semaphores.values())
    second_client, second_semaphore = asyncio.run(grab())
    assert second_client is not first_client and second_semaphore is not first_semaphore


def test_a_limit_of_one_works_in_loop_after_loop() -> None:
    """Loop after loop (asyncio.run), requests queue on a working semaphore of their loop."""
    with FakeOpenAIServer(latency=0.05).running() as url:
        model = client(url, concurrency=1)

        async def three() -> list[str]:
            answers = await asyncio.wait_for(asyncio.gather(*(model.chat(ask(i)) for i in range(3))), 10)
            return [answer[0].text for answer in answers]

        for _ in range(3):
            assert asyncio.run(three()) == [f"echo[0]: question {i}" for i in range(3)]
