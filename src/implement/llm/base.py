"""The chat-model contract shared by every backend, and per-model usage accounting."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from implement.config import STRUCTURED_MODES
from implement.errors import ImplementError

# An OpenAI-style chat message: role and content (a string, or text and image_url parts)
Message = dict[str, Any]
# A JSON schema an answer must follow (the subset every backend here can enforce: object,
# properties, required, additionalProperties false, enum, const, array items / minItems /
# maxItems, string maxLength, boolean, null, anyOf)
Schema = dict[str, Any]
# What a backend does with a request's schema: "constrained" (decoding follows it),
# "unconstrained" (it cannot: the schema is only checked against the answer by the caller's
# parser), "unknown" (an HTTP endpoint not probed yet; `implement.llm.probe` finds out)
SCHEMA_SUPPORT = ("constrained", "unconstrained", "unknown")


def message_text(message: Message) -> str:
    """A message's text: its content, or the text parts of a multi-part content joined by lines."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")


class LLMError(ImplementError):
    """A model request failed for good (after its bounded retries), or the model spec is bad."""


def check_structured(mode: str) -> str:
    """`mode`, when it is one of `llm.structured`'s values (`STRUCTURED_MODES`); `LLMError` otherwise."""
    if mode not in STRUCTURED_MODES:
        raise LLMError(f"structured must be one of {', '.join(STRUCTURED_MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class Completion:
    """One sampled answer, with what it cost."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0  # seconds of the request that produced it
    cost: float = 0.0  # dollars, from the configured price table
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Usage:
    """What a model has consumed so far (summed over its calls)."""

    requests: int = 0
    retries: int = 0
    completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    cached_prompt_tokens: int = 0  # prompt tokens the server read from its prompt cache
    failed_requests: int = 0  # requests that failed for good (an LLMError raised)
    errors: dict[str, int] = field(default_factory=dict)  # failed attempts by kind (retried or not)

    def record(
        self, *, completions: int, prompt_tokens: int = 0, completion_tokens: int = 0, latency: float = 0.0,
        cost: float = 0.0, cached_prompt_tokens: int = 0,
    ) -> None:  # fmt: skip
        """Count one answered request (also in the current `usage_ledger`, if any)."""
        self.requests += 1
        self.completions += completions
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cached_prompt_tokens += cached_prompt_tokens
        self.latency += latency
        self.cost += cost
        ledger = _LEDGER.get()
        if ledger is not None and ledger is not self:
            ledger.record(
                completions=completions, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                latency=latency, cost=cost, cached_prompt_tokens=cached_prompt_tokens,
            )  # fmt: skip

    def record_failure(self) -> None:
        """Count one request that failed for good (also in the current `usage_ledger`, if any)."""
        self.failed_requests += 1
        ledger = _LEDGER.get()
        if ledger is not None and ledger is not self:
            ledger.record_failure()

    def add_error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_LEDGER: ContextVar[Usage | None] = ContextVar("implement_usage_ledger", default=None)


@contextmanager
def usage_ledger() -> Iterator[Usage]:
    """A fresh `Usage` counting every answered request made inside this context.

    Tasks and threads started inside it (asyncio.gather, to_thread) count too, while
    concurrent work of other contexts (another agent sharing the same model) does not:
    this is how one agent's step knows its own calls, tokens and cost.
    """
    ledger = Usage()
    token = _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        _LEDGER.reset(token)


@contextmanager
def unmetered() -> Iterator[None]:
    """Requests made inside count in their model's `Usage` but in no `usage_ledger` (a model's own
    probe of its endpoint is no agent's step)."""
    token = _LEDGER.set(None)
    try:
        yield
    finally:
        _LEDGER.reset(token)


def fingerprint(path: Path, *, content: bool = False) -> str:
    """A short hash of a file, or of a folder's top-level files: their names, sizes and modification
    times, or (`content`) their bytes. Part of a model's identity: new weights, a new fingerprint."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        if content:
            with file.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
        else:
            stat = file.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


class ChatModel(Protocol):
    """`chat` returns `n` completions of one conversation.

    `schema`: a JSON schema the answer should follow (`Schema`). A backend whose
    `schema_support` is "constrained" decodes under it (unless its structured mode is off);
    the others ignore it, and callers always parse answers as if it were ignored.

    `name` is the model's name (what an endpoint is asked for); `identity` says which model
    answers, precisely enough that two models with one identity give the same answers:
    backend, endpoint or weights, name (`openai:URL:MODEL`, `local:GGUF:FINGERPRINT:chat_format=F:seed=S`,
    `hf:DIR:FINGERPRINT:seed=S`, `scripted:SCRIPT_HASH`). The response cache keys on it.
    """

    name: str

    @property
    def identity(self) -> str: ...

    @property
    def usage(self) -> Usage: ...

    @property
    def schema_support(self) -> str: ...

    async def chat(
        self,
        messages: list[Message],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 512,
        schema: Schema | None = None,
        top_p: float = 1.0,
    ) -> list[Completion]: ...
