"""The probe: one short request to a model before any episode, failing with one clear line.

`probe_model` asks an HTTP endpoint once, past the response cache, without retries and
within `timeout` seconds, and turns what went wrong into one line naming the model and the
cause: no API key for OpenAI's endpoint (then nothing is sent), a key refused (401/403),
nothing listening or an unknown host, an unknown model name (404; the served models are
listed), no answer in time. An in-process model (local:, hf:, scripted:) answers one chat
call. Then, unless `llm.structured` is off, an endpoint's JSON-schema form is found
(`OpenAIChatModel.probe_schema_form`), and `on` with a model that cannot decode under schemas
fails. `models_made` collects the models `make_chat_model` makes inside it, so that a command
probes exactly the models its agent uses: `probe_models`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from implement.llm.base import ChatModel, LLMError, Message
from implement.llm.cache import uncached
from implement.llm.openai_chat import OPENAI_URL, OpenAIChatModel

PROBE_MESSAGES: list[Message] = [{"role": "user", "content": "Reply with the single word: ready"}]
PROBE_TOKENS = 4
_SHOWN_MODELS = 8  # served models named in an unknown-model error

_MADE: ContextVar[list[ChatModel] | None] = ContextVar("implement_models_made", default=None)


@contextmanager
def models_made() -> Iterator[list[ChatModel]]:
    """The list of every model `make_chat_model` makes inside this context, in order."""
    made: list[ChatModel] = []
    token = _MADE.set(made)
    try:
        yield made
    finally:
        _MADE.reset(token)


def note_made(model: ChatModel) -> None:
    """Called by `make_chat_model` with each model it makes (kept by the current `models_made`)."""
    made = _MADE.get()
    if made is not None:
        made.append(model)


async def probe_models(models: list[ChatModel], *, timeout: float = 10.0) -> None:
    """Probe each distinct model (by identity) at once; the first failure's `LLMError`."""
    distinct: dict[str, ChatModel] = {}
    for model in models:
        distinct.setdefault(uncached(model).identity, model)
    probes = (probe_model(m, timeout=timeout) for m in distinct.values())
    results = await asyncio.gather(*probes, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def probe_model(model: ChatModel, *, timeout: float = 10.0) -> None:
    """One short real request to `model`; an `LLMError` of one line saying why it cannot be used."""
    inner = uncached(model)
    if isinstance(inner, OpenAIChatModel):
        await _probe_endpoint(inner, timeout)
    else:
        try:
            await inner.chat(PROBE_MESSAGES, n=1, temperature=0.0, max_tokens=PROBE_TOKENS)
        except Exception as exc:  # any failure of the backend: what it says is the cause
            raise LLMError(f"model {inner.name!r} cannot answer: {_one_line(exc)}") from exc
    await _probe_structured(inner)


async def _probe_structured(model: ChatModel) -> None:
    """Find out how an endpoint takes JSON schemas (where they are used); `llm.structured` on
    with a model that cannot decode under them is an error now, not at the first answer."""
    structured = getattr(model, "structured", "auto")
    if structured == "off":
        return
    if isinstance(model, OpenAIChatModel):
        await model.probe_schema_form()
    if structured == "on" and model.schema_support != "constrained":
        raise LLMError(
            f"model {model.name!r} cannot decode under JSON schemas ({model.schema_support}), "
            "but llm.structured is on; set it to auto or off"
        )


async def _probe_endpoint(model: OpenAIChatModel, timeout: float) -> None:
    where = f"model {model.name!r} at {model.endpoint}"
    if not model.has_api_key and model.endpoint == OPENAI_URL:
        raise LLMError(f"{where}: no API key is configured; set OPENAI_API_KEY or llm.api_key")
    client = model.client.with_options(timeout=timeout, max_retries=0)
    request = client.chat.completions.create(
        model=model.name,
        messages=cast(Any, PROBE_MESSAGES),
        n=1,
        temperature=0.0,
        max_tokens=PROBE_TOKENS,
    )
    try:
        await asyncio.wait_for(request, timeout)
    except Exception as exc:
        cause = await _cause(exc, model, client, timeout)
        raise LLMError(f"{where}: {cause}") from exc


async def _cause(exc: Exception, model: OpenAIChatModel, client: Any, timeout: float) -> str:
    """What a failed probe request says about the endpoint, in words a user can act on."""
    import openai

    if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect: {_root(exc)}"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        if not model.has_api_key:
            return f"the server wants an API key (HTTP {exc.status_code}); set OPENAI_API_KEY or llm.api_key"
        return f"the API key was refused (HTTP {exc.status_code}); check OPENAI_API_KEY or llm.api_key"
    if isinstance(exc, openai.NotFoundError | openai.BadRequestError):
        served = await _served_models(client)
        if served is not None and model.name not in served:
            shown = ", ".join(served[:_SHOWN_MODELS]) + (", ..." if len(served) > _SHOWN_MODELS else "")
            return f"unknown model (HTTP {exc.status_code}); the server has: {shown or 'none'}"
        if isinstance(exc, openai.NotFoundError):
            return "HTTP 404: an unknown model, or no OpenAI API at this URL (does it end in /v1?)"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_one_line(exc)}"
    return _one_line(exc)


async def _served_models(client: Any) -> list[str] | None:
    """The endpoint's /models list, or None when it has none to give."""
    try:
        return [m.id async for m in client.models.list()]
    except Exception:  # no list to compare with: the status code alone is the cause
        return None


def _root(exc: BaseException) -> str:
    """What the innermost error of a connection failure says: "connection refused", the resolver's words."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, ConnectionRefusedError):
            return "connection refused (is a server listening there?)"
        exc, inner = inner, inner.__cause__ or inner.__context__
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


__all__ = ["PROBE_MESSAGES", "models_made", "note_made", "probe_model", "probe_models"]
