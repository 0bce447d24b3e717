"""`implement llm check`: what an endpoint serves and whether it honours n, logprobs and JSON schemas."""

from __future__ import annotations

import time
from typing import Any, cast

from implement.llm.base import ChatModel, Message
from implement.llm.cache import uncached
from implement.llm.openai_chat import OpenAIChatModel

PROBE: list[Message] = [{"role": "user", "content": "Reply with the single word: ready"}]


async def check_model(model: ChatModel) -> dict[str, Any]:
    """One short request (and, for HTTP endpoints, the model list, n=2, logprobs and schema probes).

    `schema` is how the model treats a JSON schema: "constrained" (with the form an HTTP
    endpoint honours, one probe request per form tried), or "unconstrained"."""
    model = uncached(model)  # a check asks the model itself, never the cache
    report: dict[str, Any] = {"model": model.name}
    if isinstance(model, OpenAIChatModel):
        client = model.client
        report["endpoint"] = model.endpoint
        report["served_models"] = [m.id async for m in client.models.list()]
    started = time.perf_counter()
    (answer,) = await model.chat(PROBE, n=1, temperature=0.0, max_tokens=16)
    report.update(
        latency_s=round(time.perf_counter() - started, 3),
        reply=answer.text.strip()[:80],
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
    )
    if isinstance(model, OpenAIChatModel):
        report["n_honoured"] = await _probe(model, n=2)
        report["logprobs_honoured"] = await _probe(model, n=1, logprobs=True, top_logprobs=1)
        report["schema_form"] = await model.probe_schema_form() or None
    report["schema"] = model.schema_support
    report["usage"] = model.usage.to_dict()
    return report


async def _probe(model: OpenAIChatModel, n: int, **params: Any) -> bool | str:
    """Whether one raw request gets n choices (and logprobs when asked); an error says why not."""
    try:
        raw = await model.client.chat.completions.create(
            model=model.name,
            messages=cast(Any, PROBE),
            n=n,
            max_tokens=4,
            temperature=1.0,
            **params,
        )
    except Exception as exc:
        return f"error: {type(exc).__name__}: {str(exc)[:120]}"
    if params.get("logprobs"):
        return bool(raw.choices and raw.choices[0].logprobs and raw.choices[0].logprobs.content)
    return len(raw.choices) == n
