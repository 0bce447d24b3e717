"""The OpenAI-compatible backend: OpenAI, Azure/Gemini gateways, vLLM, SGLang, llama.cpp, Ollama.

The client owns its retry policy (the SDK's own retries are off): 429, 5xx, timeouts,
connection errors and malformed responses are retried with jittered exponential backoff
(honouring `Retry-After`), a bounded number of times. Requests to one endpoint share a
concurrency limit. Servers that return fewer choices than `n` are topped up with further
requests. API keys never appear in errors or logs. SDK clients and semaphores belong to one
event loop: they are held per loop object (weakly), so a new loop never gets an old one's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import weakref
from typing import Any, cast

from implement.llm.base import Completion, LLMError, Message, Usage

logger = logging.getLogger(__name__)

# Dollars per million tokens (input, output); models not listed cost 0 and say so once.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
}
OPENAI_URL = "https://api.openai.com/v1"  # the SDK's endpoint when none is given
_RETRY_STATUS = {408, 409, 429}
_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)
_unpriced_warned: set[str] = set()


def endpoint_semaphore(endpoint: str, limit: int) -> asyncio.Semaphore:
    """The concurrency limit shared by every client of `endpoint` in the running event loop."""
    per_endpoint = _semaphores.setdefault(asyncio.get_running_loop(), {})
    if endpoint not in per_endpoint:
        per_endpoint[endpoint] = asyncio.Semaphore(limit)
    return per_endpoint[endpoint]


def price_of(model: str, prices: dict[str, tuple[float, float]]) -> tuple[float, float]:
    if model in prices:
        return prices[model]
    if model not in _unpriced_warned:
        _unpriced_warned.add(model)
        logger.info("no price known for model %r: its cost is counted as 0", model)
    return (0.0, 0.0)


class OpenAIChatModel:
    """A `ChatModel` over any OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 6,
        concurrency: int = 16,
        prices: dict[str, tuple[float, float]] | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        import openai  # the `llm` extra

        self.name = model
        self.base_url = base_url
        # where the requests go, as the SDK resolves it
        self.endpoint = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
        self.identity = f"openai:{self.endpoint}:{model}"
        self.has_api_key = bool(api_key)  # "EMPTY" is sent otherwise (what local servers accept)
        self.usage = Usage()
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff, self.max_backoff = backoff, max_backoff
        self._price = price_of(model, PRICES | (prices or {}))
        self._openai = openai
        self._client_options: dict[str, Any] = {
            "api_key": api_key or "EMPTY",
            "base_url": base_url,
            "timeout": timeout,
        }
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._rng = random.Random()

    @property
    def client(self) -> Any:
        """The SDK client of the running event loop (its connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = self._openai.AsyncOpenAI(**self._client_options, max_retries=0)
        return self._clients[loop]

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512
    ) -> list[Completion]:
        if n < 1:
            raise LLMError(f"n must be at least 1, got {n}")
        completions: list[Completion] = []
        for _ in range(n):  # every request yields at least one choice, so n requests always suffice
            missing = n - len(completions)
            completions += (await self._request(messages, missing, temperature, max_tokens))[:missing]
            if len(completions) == n:
                return completions
            logger.debug("%s returned %d of %d choices; asking for the rest", self.name, len(completions), n)
        raise LLMError(f"{self.name}: got {len(completions)} of {n} completions")  # pragma: no cover

    async def _request(
        self, messages: list[Message], n: int, temperature: float, max_tokens: int
    ) -> list[Completion]:
        for attempt in range(self.max_retries + 1):
            try:
                async with endpoint_semaphore(self.endpoint, self.concurrency):
                    started = time.perf_counter()
                    response = await self.client.chat.completions.create(
                        model=self.name,
                        messages=cast(Any, messages),
                        n=n,
                        temperature=temperature,
                        max_tokens=max_tokens,
                    )
                    latency = time.perf_counter() - started
                return self._completions(response, latency)
            except Exception as exc:
                kind, retry_after = self._classify(exc)
                self.usage.add_error(kind)
                if kind == "fatal" or attempt == self.max_retries:
                    self.usage.record_failure()
                    attempts = f"after {attempt + 1} attempts" if kind != "fatal" else "not retryable"
                    raise LLMError(
                        f"{self.name}: request failed ({attempts}): {kind}: {_describe(exc)}"
                    ) from None
                self.usage.retries += 1
                delay = retry_after if retry_after is not None else self.backoff * 2**attempt
                await asyncio.sleep(min(self.max_backoff, delay) * (0.5 + self._rng.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _classify(self, exc: Exception) -> tuple[str, float | None]:
        """(kind, retry-after seconds): kind is "fatal" for errors a retry cannot fix."""
        openai = self._openai
        if isinstance(exc, openai.APITimeoutError):
            return "timeout", None
        if isinstance(exc, openai.APIConnectionError):
            return "connection", None
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in _RETRY_STATUS or status >= 500:
                header = exc.response.headers.get("retry-after")
                try:
                    return str(status), float(header) if header else None
                except ValueError:
                    return str(status), None
            return "fatal", None
        if isinstance(exc, openai.APIResponseValidationError | ValueError | KeyError):
            return "malformed", None
        return "fatal", None

    def _completions(self, response: Any, latency: float) -> list[Completion]:
        choices = list(response.choices or [])
        if not choices:
            raise ValueError("response has no choices")
        usage = response.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        generated = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = (prompt * self._price[0] + generated * self._price[1]) / 1e6
        self.usage.record(
            completions=len(choices),
            prompt_tokens=prompt,
            completion_tokens=generated,
            latency=latency,
            cost=cost,
        )
        share = len(choices)
        return [
            Completion(
                text=str(choice.message.content or ""),
                finish_reason=choice.finish_reason,
                prompt_tokens=prompt if i == 0 else 0,
                completion_tokens=generated // share + (generated % share if i == 0 else 0),
                latency=latency,
                cost=cost if i == 0 else 0.0,
            )
            for i, choice in enumerate(choices)
        ]


def _describe(exc: Exception) -> str:
    """An error's type and message, short; the SDK never puts the key in these."""
    return f"{type(exc).__name__}: {str(exc)[:300]}"
