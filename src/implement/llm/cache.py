"""A SQLite cache of model answers, and the `ChatModel` wrapper that uses it.

The key hashes only what changes an answer: the model's identity (backend, endpoint or
weights, name: two servers under one served name are two models), messages, temperature,
max_tokens and the answer's JSON schema, if any (never timeouts or keys). Each sample is
stored under (key, sample index), so a request for n samples reuses the ones it has and asks
the model only for the rest, and a re-run of a seeded experiment replays exactly, samples at
temperature > 0 included. The
prompts' versions are not in the key: the messages hold the prompt text itself, so a changed
prompt is a new key, and a version bump that leaves the text alone changes no answer. The file
is safe for concurrent writers (WAL journal, busy timeout, one transaction per write); reads
and writes run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from implement.llm.base import ChatModel, Completion, LLMError, Message, Schema, Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    key TEXT NOT NULL,
    sample INTEGER NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (key, sample)
)
"""


def cache_key(identity: str, messages: list[Message], **params: Any) -> str:
    """The key of a request to the model `identity` (`ChatModel.identity`)."""
    payload = json.dumps(
        {"model": identity, "messages": messages, **params}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class ResponseCache:
    """(key, sample index) -> completion, in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LLMError(f"cannot open the response cache {self.path}: {exc}") from exc

    def get(self, key: str, n: int) -> dict[int, Completion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT sample, completion FROM samples WHERE key = ? AND sample < ?", (key, n)
            ).fetchall()
        return {sample: Completion(**{**json.loads(text), "cached": True}) for sample, text in rows}

    def put(self, key: str, samples: dict[int, Completion]) -> None:
        now = time.time()
        rows = [(key, i, json.dumps({**c.to_dict(), "cached": False}), now) for i, c in samples.items()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedChatModel:
    """A `ChatModel` that answers from the cache where it can and stores what the model says."""

    def __init__(self, model: ChatModel, cache: ResponseCache) -> None:
        self.model = model
        self.cache = cache
        self.name = model.name

    @property
    def identity(self) -> str:
        return self.model.identity

    @property
    def usage(self) -> Usage:
        return self.model.usage

    @property
    def schema_support(self) -> str:
        return self.model.schema_support

    async def chat(
        self,
        messages: list[Message],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 512,
        schema: Schema | None = None,
        top_p: float = 1.0,
    ) -> list[Completion]:
        # each only when set: the keys of requests without it stay those of earlier caches
        extra = {k: v for k, v in {"schema": schema, "top_p": top_p}.items() if v not in (None, 1.0)}
        key = cache_key(self.identity, messages, temperature=temperature, max_tokens=max_tokens, **extra)
        found = await asyncio.to_thread(self.cache.get, key, n)
        missing = [i for i in range(n) if i not in found]
        self.usage.cache_hits += n - len(missing)
        self.usage.cache_misses += len(missing)
        if missing:
            fresh = await self.model.chat(
                messages, n=len(missing), temperature=temperature, max_tokens=max_tokens, schema=schema,
                top_p=top_p,
            )  # fmt: skip
            new = dict(zip(missing, fresh, strict=True))
            await asyncio.to_thread(self.cache.put, key, new)
            found.update(new)
        return [found[i] for i in range(n)]


def uncached(model: ChatModel) -> ChatModel:
    """The model behind any `CachedChatModel` wrapping: what a probe or a check must ask."""
    while isinstance(model, CachedChatModel):
        model = model.model
    return model
