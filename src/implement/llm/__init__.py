"""Language models behind one async `ChatModel` contract, and the registry from spec strings.

Specs: `openai:MODEL` (endpoint and key from config / OPENAI_BASE_URL / OPENAI_API_KEY),
`openai:MODEL@URL`, `local:NAME_OR_GGUF_PATH` (llama.cpp in process; `local:smollm2-135m`
is embedded; `local:GGUF_PATH#chat_format=FORMAT` names the chat format of a file without a
chat template, as the `llm.chat_format` setting does), `hf:DIR` (a transformers checkpoint or
a LoRA adapter `implement train` wrote, in process), `scripted:PATH` (answers from a JSON
script; `scripted:` alone echoes).
"""

from __future__ import annotations

from pathlib import Path

from implement.config import LLMConfig
from implement.llm.base import ChatModel, Completion, LLMError, Message, Usage
from implement.llm.cache import CachedChatModel, ResponseCache
from implement.llm.probe import note_made

SPEC_FORMS = (
    "openai:MODEL",
    "openai:MODEL@URL",
    "local:NAME_OR_GGUF_PATH",
    "local:GGUF_PATH#chat_format=FORMAT",
    "hf:DIR",
    "scripted:PATH",
    "scripted:",
)


def make_chat_model(
    spec: str, config: LLMConfig | None = None, *, cache: ResponseCache | None = None
) -> ChatModel:
    """The model a spec names, wrapped in `cache` (default: `config.cache`, when set)."""
    config = config or LLMConfig()
    if cache is None:
        cache = open_cache(config.cache)
    backend, sep, rest = spec.partition(":")
    model: ChatModel
    if backend == "openai" and sep and rest:
        from implement.llm.openai_chat import OpenAIChatModel

        name, at, url = rest.partition("@")
        model = OpenAIChatModel(
            name,
            base_url=url if at else config.base_url,
            api_key=config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
            concurrency=config.concurrency,
            prices={model: (p[0], p[1], p[2] if len(p) > 2 else p[0]) for model, p in config.prices.items()},
            structured=config.structured,
        )
    elif backend == "local" and sep and rest:
        from implement.llm.local import LocalChatModel, parse_local_spec

        name, options = parse_local_spec(rest)
        model = LocalChatModel(
            name, chat_format=options.get("chat_format", config.chat_format), structured=config.structured
        )
    elif backend == "hf" and sep and rest:
        from implement.llm.hf import TransformersChatModel

        model = TransformersChatModel(rest, structured=config.structured)
    elif backend == "scripted" and sep:
        from implement.llm.scripted import Script, ScriptedChatModel

        model = ScriptedChatModel(Script.load(rest) if rest else Script(), name=spec)
    else:
        raise LLMError(f"unknown model spec {spec!r}; expected one of: {', '.join(SPEC_FORMS)}")
    made = CachedChatModel(model, cache) if cache is not None else model
    note_made(made)  # for the probe of a command's models (`implement.llm.probe.models_made`)
    return made


def open_cache(path: str | Path | None) -> ResponseCache | None:
    return ResponseCache(Path(path).expanduser()) if path else None


__all__ = [
    "SPEC_FORMS",
    "CachedChatModel",
    "ChatModel",
    "Completion",
    "LLMError",
    "Message",
    "ResponseCache",
    "Usage",
    "make_chat_model",
    "open_cache",
]
