"""The OpenAI-compatible backend: OpenAI, Azure/Gemini gateways, vLLM, SGLang, llama.cpp, Ollama.

Structured outputs: a request's JSON schema is sent in the first form the endpoint is found
to honour (`SCHEMA_FORMS`), found once per model by probing (`probe_schema_form`: a schema
whose only answer is a made-up word; an endpoint that ignores it cannot write that word):
- `json_schema`: `response_format={"type": "json_schema", "json_schema": {...}}`, the OpenAI
  form (strict on OpenAI itself, for schemas with an object at the root), which vLLM >= 0.6,
  SGLang, llama.cpp's `llama-server` and Ollama take too;
- `json_object`: `response_format={"type": "json_object", "schema": ...}`, the form of
  llama-cpp-python's server (`python -m llama_cpp.server`), which answers the first form with
  HTTP 200 and unconstrained text;
- `guided_json`: vLLM's older extra body field, for vLLM < 0.6.
`structured` = "off" never sends a schema; "auto" sends it where a form works; "on" fails
(`LLMError`) where none does.

The client owns its retry policy (the SDK's own retries are off): 429, 5xx, timeouts,
connection errors and malformed responses are retried with jittered exponential backoff
(honouring `Retry-After`), a bounded number of times. Requests to one endpoint share a
concurrency limit. Servers that return fewer choices than `n` are topped up with further
requests. API keys never appear in errors or logs. SDK clients and semaphores belong to one
event loop: they are held per loop object (weakly), so a new loop never gets an old one's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import weakref
from typing import Any, cast

from implement.llm.base import Completion, LLMError, Message, Schema, Usage, check_structured, unmetered

logger = logging.getLogger(__name__)

# Dollars per million tokens (input, output, cached input); models not listed cost 0 and say so once.
Price = tuple[float, float, float]
PRICES: dict[str, Price] = {
    "gpt-4o": (2.5, 10.0, 1.25),
    "gpt-4o-mini": (0.15, 0.6, 0.075),
    "gpt-4.1": (2.0, 8.0, 0.5),
    "gpt-4.1-mini": (0.4, 1.6, 0.1),
    "gpt-4.1-nano": (0.1, 0.4, 0.025),
}
SCHEMA_FORMS = ("json_schema", "json_object", "guided_json")
PROBE_RETRIES = 2  # a probe request's retries: a form refused with a 5xx is not retried for long
PROBE_WORD = "zqxvk-probe"  # no model writes this unless a schema makes it
SCHEMA_PROBE_MESSAGES: list[Message] = [{"role": "user", "content": "Answer with a JSON object."}]
PROBE_SCHEMA: Schema = {
    "type": "object",
    "properties": {"word": {"type": "string", "enum": [PROBE_WORD]}},
    "required": ["word"],
    "additionalProperties": False,
}
OPENAI_URL = "https://api.openai.com/v1"  # the SDK's endpoint when none is given
_RETRY_STATUS = {408, 409, 429}
_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)
_unpriced_warned: set[str] = set()


class RequestError(LLMError):
    """A request that failed for good; `kind` is what failed last ("connection", "429", "refused", ...)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def rejected_body(self) -> bool:
        """Whether the server answered and refused the request itself (HTTP 400/422, or a 5xx,
        which is how llama-cpp-python's server rejects a parameter value it does not take)."""
        return self.kind == "refused" or (self.kind.isdigit() and int(self.kind) >= 500)


def endpoint_semaphore(endpoint: str, limit: int) -> asyncio.Semaphore:
    """The concurrency limit shared by every client of `endpoint` in the running event loop."""
    per_endpoint = _semaphores.setdefault(asyncio.get_running_loop(), {})
    if endpoint not in per_endpoint:
        per_endpoint[endpoint] = asyncio.Semaphore(limit)
    return per_endpoint[endpoint]


def price_of(model: str, prices: dict[str, Price]) -> Price:
    if model in prices:
        return prices[model]
    if model not in _unpriced_warned:
        _unpriced_warned.add(model)
        logger.info("no price known for model %r: its cost is counted as 0", model)
    return (0.0, 0.0, 0.0)


def request_cost(price: Price, prompt: int, cached: int, generated: int) -> float:
    """Dollars of one request: uncached and cached prompt tokens and completion tokens, each at its price."""
    return ((prompt - cached) * price[0] + cached * price[2] + generated * price[1]) / 1e6


def schema_params(form: str, schema: Schema, *, strict: bool) -> dict[str, Any]:
    """The request parameters that carry `schema` in `form` (see the module docstring)."""
    if form == "json_schema":
        body = {"name": "answer", "schema": _strict(schema) if strict else schema, "strict": strict}
        return {"response_format": {"type": "json_schema", "json_schema": body}}
    if form == "json_object":
        return {"response_format": {"type": "json_object", "schema": schema}}
    return {"extra_body": {"guided_json": schema}}


def _strict(schema: Any) -> Any:
    """`schema` without the keywords OpenAI's strict mode refuses (string lengths)."""
    if isinstance(schema, dict):
        return {k: _strict(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def honours_probe(text: str) -> bool:
    """Whether an answer to the probe schema is the word only that schema allows."""
    try:
        return bool(json.loads(text).get("word") == PROBE_WORD)
    except (ValueError, AttributeError):
        return False


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
        prices: dict[str, Price] | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        structured: str = "auto",
        schema_form: str | None = None,
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
        if schema_form not in (None, *SCHEMA_FORMS):
            raise LLMError(f"schema_form must be one of {', '.join(SCHEMA_FORMS)}, got {schema_form!r}")
        self.structured = check_structured(structured)
        self.schema_form = schema_form  # None: not probed yet; "": no form is honoured
        self.strict = self.endpoint == OPENAI_URL

    @property
    def schema_support(self) -> str:
        if self.schema_form is None:
            return "unknown"
        return "constrained" if self.schema_form else "unconstrained"

    async def probe_schema_form(self) -> str:
        """The first of `SCHEMA_FORMS` this endpoint honours ("" for none), found with one request per
        form tried and kept; a form the server refuses (`RequestError.rejected_body`) is not honoured."""
        if self.schema_form is None:
            found = ""
            for form in SCHEMA_FORMS:
                params = schema_params(form, PROBE_SCHEMA, strict=self.strict)
                try:
                    with unmetered():
                        answers = await self._request(SCHEMA_PROBE_MESSAGES, 1, 0.0, 48, params, probe=True)
                except RequestError as exc:
                    if not exc.rejected_body:
                        raise
                    continue
                if honours_probe(answers[0].text):
                    found = form
                    break
            self.schema_form = found
            logger.info("%s honours JSON schemas as %s", self.identity, found or "no form")
        return self.schema_form

    async def _schema_params(self, schema: Schema | None) -> dict[str, Any]:
        if schema is None or self.structured == "off":
            return {}
        form = await self.probe_schema_form()
        if not form:
            if self.structured == "on":
                raise LLMError(
                    f"{self.name} at {self.endpoint} honours no JSON-schema form "
                    f"({', '.join(SCHEMA_FORMS)}); set llm.structured to auto or off"
                )
            return {}
        # OpenAI's strict mode takes only an object at the root: a choice of shapes goes unstrict
        return schema_params(form, schema, strict=self.strict and "anyOf" not in schema)

    @property
    def client(self) -> Any:
        """The SDK client of the running event loop (its connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = self._openai.AsyncOpenAI(**self._client_options, max_retries=0)
        return self._clients[loop]

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
        if n < 1:
            raise LLMError(f"n must be at least 1, got {n}")
        params = await self._schema_params(schema)
        if top_p < 1.0:  # sent only when set: some servers refuse the field
            params = {**params, "top_p": top_p}
        completions: list[Completion] = []
        for _ in range(n):  # every request yields at least one choice, so n requests always suffice
            missing = n - len(completions)
            completions += (await self._request(messages, missing, temperature, max_tokens, params))[:missing]
            if len(completions) == n:
                return completions
            logger.debug("%s returned %d of %d choices; asking for the rest", self.name, len(completions), n)
        raise LLMError(f"{self.name}: got {len(completions)} of {n} completions")  # pragma: no cover

    async def _request(
        self,
        messages: list[Message],
        n: int,
        temperature: float,
        max_tokens: int,
        params: dict[str, Any],
        *,
        probe: bool = False,
    ) -> list[Completion]:
        """One request's completions, retried; a probe's is retried less, and its failure (an
        answer that the form is not taken) is no failed request of the model's."""
        max_retries = min(PROBE_RETRIES, self.max_retries) if probe else self.max_retries
        for attempt in range(max_retries + 1):
            try:
                async with endpoint_semaphore(self.endpoint, self.concurrency):
                    started = time.perf_counter()
                    response = await self.client.chat.completions.create(
                        model=self.name,
                        messages=cast(Any, messages),
                        n=n,
                        temperature=temperature,
                        max_tokens=max_tokens,
                        **params,
                    )
                    latency = time.perf_counter() - started
                return self._completions(response, latency)
            except Exception as exc:
                kind, retry_after = self._classify(exc)
                self.usage.add_error(kind)
                final = kind in ("fatal", "refused")
                if final or attempt == max_retries:
                    if not probe:
                        self.usage.record_failure()
                    attempts = "not retryable" if final else f"after {attempt + 1} attempts"
                    why = f"{self.name}: request failed ({attempts}): {kind}: {_describe(exc)}"
                    raise RequestError(why, kind) from None
                self.usage.retries += 1
                delay = retry_after if retry_after is not None else self.backoff * 2**attempt
                await asyncio.sleep(min(self.max_backoff, delay) * (0.5 + self._rng.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _classify(self, exc: Exception) -> tuple[str, float | None]:
        """(kind, retry-after seconds): kind is "fatal" for errors a retry cannot fix, "refused" for a
        request body the server rejects (HTTP 400, 422)."""
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
            return ("refused" if status in (400, 422) else "fatal"), None
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
        details = getattr(usage, "prompt_tokens_details", None)
        cached = min(prompt, int(getattr(details, "cached_tokens", 0) or 0))
        cost = request_cost(self._price, prompt, cached, generated)
        self.usage.record(
            completions=len(choices),
            prompt_tokens=prompt,
            completion_tokens=generated,
            latency=latency,
            cost=cost,
            cached_prompt_tokens=cached,
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
