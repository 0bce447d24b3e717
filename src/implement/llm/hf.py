"""A chat model run in-process by transformers: a base checkpoint, or a trained LoRA adapter.

`path` is a checkpoint directory, an embedded model name (`smollm2-135m`, converted once
as for training), a hub id, or an adapter directory (it holds `adapter_config.json`, as
`implement.train` writes it). An adapter is loaded on the base model it was trained from:
the base named in `implement_train.json` (resolved as in training), else the one in
`adapter_config.json`. Text-only: messages with image parts are refused.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from implement.llm.base import Completion, LLMError, Message, Usage, fingerprint, message_text
from implement.train.base_models import resolve_base_model


def _base_of(adapter_dir: Path) -> str:
    """The base model an adapter was trained on."""
    from implement.train.sft import TRAIN_INFO

    info_path = adapter_dir / TRAIN_INFO
    if info_path.is_file():
        return resolve_base_model(json.loads(info_path.read_text(encoding="utf-8"))["base_model"])
    return str(json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"])


def _text_messages(messages: list[Message]) -> list[dict[str, str]]:
    for message in messages:
        if not isinstance(message["content"], str) and any(
            p.get("type") != "text" for p in message["content"]
        ):
            raise LLMError("the hf backend is text-only: a message has an image part")
    return [{"role": m["role"], "content": message_text(m)} for m in messages]


def hf_identity(path: str | Path, seed: int) -> str:
    """The identity of a checkpoint sampled with `seed`: an adapter by the bytes of its files (they
    name its base), a local checkpoint by its files' sizes and times, a hub id or embedded name as is."""
    local = Path(path).expanduser()
    if (local / "adapter_config.json").is_file():
        return f"hf:{local.resolve()}:{fingerprint(local, content=True)}:seed={seed}"
    if local.is_dir():
        return f"hf:{local.resolve()}:{fingerprint(local)}:seed={seed}"
    return f"hf:{path}:seed={seed}"


class TransformersChatModel:
    """A `ChatModel` on a transformers model in this process; samples are drawn one after another.

    Greedy at temperature 0, sampling otherwise, seeded with `seed` + the sample's index
    (so a repeated call repeats its answers).
    """

    def __init__(self, path: str | Path, *, device: str | None = None, seed: int = 0) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise LLMError(
                "the hf backend needs torch and transformers: pip install 'implement[train]'"
            ) from exc
        self.name = str(path)
        self.identity = hf_identity(path, seed)
        self.usage = Usage()
        self._seed = seed
        self._lock = threading.Lock()  # one model: one generation at a time
        self._device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self._device.startswith("cuda") else torch.float32
        local = Path(path).expanduser()
        try:
            if (local / "adapter_config.json").is_file():
                from peft import PeftModel

                base = _base_of(local)
                model: Any = PeftModel.from_pretrained(
                    AutoModelForCausalLM.from_pretrained(base, dtype=dtype), str(local)
                )
                source = str(local) if (local / "tokenizer_config.json").is_file() else base
            else:
                source = resolve_base_model(str(path))
                model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
            self._tokenizer: Any = AutoTokenizer.from_pretrained(source)  # the adapter saved its own
        except (OSError, ValueError) as exc:
            raise LLMError(f"cannot load a transformers model from {path}: {exc}") from exc
        self._model = model.to(self._device).eval()

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512
    ) -> list[Completion]:
        return [await asyncio.to_thread(self._sample, messages, i, temperature, max_tokens) for i in range(n)]

    def _sample(self, messages: list[Message], index: int, temperature: float, max_tokens: int) -> Completion:
        import torch

        inputs = self._tokenizer.apply_chat_template(
            _text_messages(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self._device)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
            if temperature > 0
            else {"do_sample": False}
        )
        with self._lock, torch.no_grad():
            started = time.perf_counter()
            torch.manual_seed(self._seed + index)
            output = self._model.generate(
                **inputs, max_new_tokens=max_tokens, pad_token_id=self._tokenizer.pad_token_id, **sampling
            )
            latency = time.perf_counter() - started
        prompt = int(inputs["input_ids"].shape[1])
        generated = output[0, prompt:]
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        finish = "stop" if len(generated) and int(generated[-1]) in eos_ids else "length"
        self.usage.record(
            completions=1, prompt_tokens=prompt, completion_tokens=len(generated), latency=latency
        )
        return Completion(
            text=self._tokenizer.decode(generated, skip_special_tokens=True),
            finish_reason=finish,
            prompt_tokens=prompt,
            completion_tokens=len(generated),
            latency=latency,
        )
