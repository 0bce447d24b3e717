"""The SQLite response cache: keys (with the endpoint identity), per-sample reuse, exact replay,
concurrent writers, off the event loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAIServer
from implement.llm import LLMError, make_chat_model
from implement.llm.cache import CachedChatModel, ResponseCache, cache_key
from implement.llm.openai_chat import OpenAIChatModel
from implement.llm.scripted import Script, ScriptedChatModel
from implement.state import SymbolicState

HELLO = [{"role": "user", "content": "hello"}]


def cached(path: Path) -> tuple[CachedChatModel, ScriptedChatModel]:
    inner = ScriptedChatModel(Script())
    return CachedChatModel(inner, ResponseCache(path)), inner


def test_key_covers_what_changes_the_answer() -> None:
    base = cache_key("m", HELLO, temperature=0.0, max_tokens=16)
    assert base == cache_key("m", [dict(HELLO[0])], temperature=0.0, max_tokens=16)
    assert base != cache_key("other", HELLO, temperature=0.0, max_tokens=16)
    assert base != cache_key("m", [{"role": "user", "content": "hello!"}], temperature=0.0, max_tokens=16)
    assert base != cache_key("m", HELLO, temperature=1.0, max_tokens=16)
    assert base != cache_key("m", HELLO, temperature=0.0, max_tokens=17)


def test_second_run_replays_without_calling_the_model(tmp_path: Path) -> None:
    model, inner = cached(tmp_path / "cache.sqlite")
    first = asyncio.run(model.chat(HELLO, n=3, temperature=1.0))
    assert inner.usage.requests == 1 and model.usage.cache_misses == 3
    again, inner_again = cached(tmp_path / "cache.sqlite")  # a new process would open the file like this
    second = asyncio.run(again.chat(HELLO, n=3, temperature=1.0))
    assert inner_again.usage.requests == 0 and again.usage.cache_hits == 3
    assert [c.text for c in second] == [c.text for c in first]
    assert all(c.cached for c in second) and not any(c.cached for c in first)


def test_more_samples_reuse_the_cached_ones(tmp_path: Path) -> None:
    model, inner = cached(tmp_path / "cache.sqlite")
    two = asyncio.run(model.chat(HELLO, n=2, temperature=1.0))
    five = asyncio.run(model.chat(HELLO, n=5, temperature=1.0))
    assert [c.text for c in five[:2]] == [c.text for c in two]
    assert inner.usage.completions == 5  # 2, then only the 3 missing
    assert (model.usage.cache_hits, model.usage.cache_misses) == (2, 5)


def _writer(path: str, worker: int) -> None:
    async def go() -> None:
        model, _ = cached(Path(path))
        for i in range(40):
            await model.chat([{"role": "user", "content": f"w{worker} q{i}"}], n=2)
            await model.chat([{"role": "user", "content": f"shared q{i}"}], n=2)

    asyncio.run(go())


def test_concurrent_writers_do_not_corrupt_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # 4 workers x 40 own prompts x 2 samples, plus 40 shared prompts x 2 samples
    assert ResponseCache(path).__len__() == 4 * 40 * 2 + 40 * 2


def test_unreadable_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LLMError, match="cannot open the response cache"):
        make_chat_model("scripted:", cache=ResponseCache(path))


def test_two_endpoints_under_one_served_name_keep_their_own_answers(tmp_path: Path) -> None:
    """Two servers answering differently as `wm_metaicl` on two ports, one cache file, over HTTP."""
    first = FakeOpenAIServer(Script(default="from the first"), model="wm_metaicl")
    second = FakeOpenAIServer(Script(default="from the second"), model="wm_metaicl")
    path = tmp_path / "cache.sqlite"

    def ask(url: str) -> list[str]:
        model = CachedChatModel(OpenAIChatModel("wm_metaicl", base_url=url, api_key="k"), ResponseCache(path))
        return [c.text for c in asyncio.run(model.chat(HELLO, n=2, temperature=1.0))]

    with first.running() as one, second.running() as two:
        answers = [ask(one), ask(two), ask(one), ask(two)]
    assert answers == [["from the first"] * 2, ["from the second"] * 2] * 2
    assert first.stats.requests == second.stats.requests == 1  # the repeats came from the cache
    assert len(ResponseCache(path)) == 4


def test_identities_name_backend_endpoint_and_model(tmp_path: Path) -> None:
    one = OpenAIChatModel("wm_metaicl", base_url="http://127.0.0.1:8002/v1/")
    two = OpenAIChatModel("wm_metaicl", base_url="http://127.0.0.1:8003/v1")
    assert one.identity == "openai:http://127.0.0.1:8002/v1:wm_metaicl"
    assert one.identity != two.identity
    cached_model, inner = cached(tmp_path / "cache.sqlite")
    assert cached_model.identity == inner.identity == f"scripted:{Script().digest}"
    assert ScriptedChatModel(Script(default="a")).identity != ScriptedChatModel(Script(default="b")).identity


def test_the_prompt_text_is_in_the_key() -> None:
    """The prompts' versions are not in the key: the messages carry the prompt text itself."""
    from implement.agents.belief import exact_belief
    from implement.prompts.belief import summary_messages

    state = SymbolicState.from_dict(
        {"agent_location": "middle of room", "inventory": "nothing", "world_state": {}}
    )
    messages = summary_messages("look", exact_belief(state, "look", [state]).outcomes, 1)
    edited = [{**messages[0], "content": messages[0]["content"] + " Be brief."}, *messages[1:]]
    assert cache_key("m", messages, temperature=0.0) != cache_key("m", edited, temperature=0.0)


def test_sqlite_runs_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    for method in ("get", "put"):
        original = getattr(ResponseCache, method)

        def spy(self: ResponseCache, *args: object, _original: Any = original) -> Any:
            threads.append(threading.get_ident())
            return _original(self, *args)

        monkeypatch.setattr(ResponseCache, method, spy)
    model, _ = cached(tmp_path / "cache.sqlite")

    async def ask() -> int:
        await model.chat(HELLO, n=2)
        return threading.get_ident()

    loop_thread = asyncio.run(ask())
    assert len(threads) == 2 and loop_thread not in threads
