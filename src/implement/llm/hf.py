"""A chat model run in-process by transformers: a base checkpoint, or a trained LoRA adapter.

`path` is a checkpoint directory, an embedded model name (`smollm2-135m`, converted once
as for training), a hub id, or an adapter directory (it holds `adapter_config.json`, as
`implement.train` writes it). An adapter is loaded on the base model it was trained from:
the base named in `implement_train.json` (resolved as in training), else the one in
`adapter_config.json`. Text-only: messages with image parts are refused.

Structured outputs: a request's JSON schema constrains decoding through lm-format-enforcer
(in the `train` extra), unless `structured` is "off". Its own transformers glue
(`lmformatenforcer.integrations.transformers`) does not import under transformers 5 (it reads
`transformers.tokenization_utils`), so its core is used: `TokenEnforcer` filters each step's
tokens (`prefix_allowed_tokens_fn`, per row of a batch of samples), on a vocabulary table built
here once per model (~2 s for SmolLM2's 49k tokens). Without lm-format-enforcer installed the
backend says it is "unconstrained" and ignores schemas.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from implement.llm.base import (
    Completion,
    LLMError,
    Message,
    Schema,
    Usage,
    check_structured,
    fingerprint,
    message_text,
)
from implement.train.base_models import resolve_base_model

logger = logging.getLogger(__name__)


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


def _enforcer_vocabulary(tokenizer: Any, eos: int | list[int]) -> Any:
    """lm-format-enforcer's view of a tokenizer: each regular token's text as it reads after another
    token (so a word-start token keeps its leading space), whether it starts a word, and a decoder."""
    from lmformatenforcer import TokenEnforcerTokenizerData

    anchor = tokenizer.encode("0", add_special_tokens=False)[-1]
    skip = len(tokenizer.decode([anchor]))
    special = set(tokenizer.all_special_ids)
    tokens = []
    for token in range(len(tokenizer)):
        if token not in special:
            text = tokenizer.decode([anchor, token])[skip:]
            tokens.append((token, text, len(text) > len(tokenizer.decode([token]))))

    def decode(ids: list[int]) -> str:
        return str(tokenizer.decode(ids)).rstrip("\ufffd")  # an unfinished multi-byte character

    return TokenEnforcerTokenizerData(tokens, decode, eos, False, len(tokenizer))


class TransformersChatModel:
    """A `ChatModel` on a transformers model in this process, one generation at a time.

    Greedy at temperature 0, sampling otherwise: a request's `n` samples are one batched
    generation, seeded with `seed` (so a repeated call repeats its answers). `structured`: "auto"
    or "on" decode under a request's schema (where lm-format-enforcer is installed), "off" ignores
    schemas. `prefix_cache`: a prompt reads only what follows the part it shares with the previous
    one (off: every prompt is read whole; `bench/hf_prefix.py` compares the two).
    """

    def __init__(
        self, path: str | Path, *, device: str | None = None, seed: int = 0, structured: str = "auto",
        prefix_cache: bool = True,
    ) -> None:  # fmt: skip
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise LLMError(
                "the hf backend needs torch and transformers: pip install 'implement[train]'"
            ) from exc
        self.name = str(path)
        self.identity = hf_identity(path, seed)
        self.structured = check_structured(structured)
        enforcer = importlib.util.find_spec("lmformatenforcer") is not None
        self.schema_support = "constrained" if enforcer else "unconstrained"
        self._vocabulary: Any = None  # lm-format-enforcer's table, built on the first schema
        self._said_unconstrained = False
        self.usage = Usage()
        self._seed = seed
        self._lock = threading.Lock()  # one model: one generation at a time
        self._prefix: tuple[list[int], Any] | None = None  # the last prompt read, and its cache
        self._keep_prefix = prefix_cache
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
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: Schema | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        wanted = schema is not None and self.structured != "off"
        if wanted and self.schema_support != "constrained" and not self._said_unconstrained:
            logger.info("%s: lm-format-enforcer is not installed, so schemas are ignored", self.name)
            self._said_unconstrained = True
        if self.structured == "off" or self.schema_support != "constrained":
            schema = None
        return await asyncio.to_thread(self._sample, messages, n, temperature, top_p, max_tokens, schema)

    def _allowed_tokens(self, schema: Schema) -> Any:
        """A `prefix_allowed_tokens_fn` that keeps decoding within `schema` (one per sample)."""
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer

        if self._vocabulary is None:
            eos = self._model.generation_config.eos_token_id
            self._vocabulary = _enforcer_vocabulary(self._tokenizer, eos or self._tokenizer.eos_token_id)
        try:
            enforcer = TokenEnforcer(self._vocabulary, JsonSchemaParser(schema))
        except Exception as exc:  # the parser raises bare errors on schemas it does not support
            raise LLMError(f"lm-format-enforcer cannot follow this JSON schema: {exc!r}") from exc
        # keys in `required`'s order (as llama.cpp's grammars have them), and at most one blank in a
        # row: a small model would spend its tokens on runs of whitespace (the enforcer sets the config)
        enforcer.root_parser.config.max_consecutive_whitespaces = 1
        enforcer.root_parser.config.force_json_field_order = True
        return lambda _batch, tokens: enforcer.get_allowed_tokens(tokens.tolist()).allowed_tokens

    def _prefilled(self, ids: list[int]) -> Any:
        """A key/value cache of the prompt `ids` but its last token (which generation reads). The part
        it shares with the previous prompt is copied from that one's cache, not read again: the
        system text, and in a step's `[PRE]` requests of the diff format the state too."""
        import torch
        from transformers import DynamicCache

        head = ids[:-1]
        cache, shared = DynamicCache(), 0
        if self._prefix is not None:
            last, last_cache = self._prefix
            pairs = zip(head, last, strict=False)
            shared = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(head), len(last)))
            if shared:
                cache = last_cache  # cut back and extended in place: generation gets a copy
                cache.crop(shared - len(last))  # a count of tokens to remove
        if shared < len(head):
            rest = torch.tensor([head[shared:]], device=self._device)
            self._model(input_ids=rest, cache=cache, use_cache=True)
        if not self._keep_prefix:
            return cache
        self._prefix = (head, cache)
        return copy.deepcopy(cache)

    def _sample(
        self, messages: list[Message], n: int, temperature: float, top_p: float, max_tokens: int,
        schema: Schema | None,
    ) -> list[Completion]:  # fmt: skip
        """`n` completions of one generation call: the prompt is read once (what it shares with the
        previous prompt not even that, see `_prefilled`), the samples decoded as a batch (greedy:
        one decoding, repeated)."""
        import torch

        ids = self._tokenizer.apply_chat_template(
            _text_messages(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"][0].tolist()
        rows = n if temperature > 0 else 1
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
            if temperature > 0
            else {"do_sample": False}
        )
        with self._lock, torch.no_grad():
            if schema is not None:
                sampling["prefix_allowed_tokens_fn"] = self._allowed_tokens(schema)
            started = time.perf_counter()
            cache = self._prefilled(ids)
            cache.batch_repeat_interleave(rows)
            torch.manual_seed(self._seed)
            output = self._model.generate(
                input_ids=torch.tensor([ids] * rows, device=self._device),
                attention_mask=torch.ones(rows, len(ids), dtype=torch.long, device=self._device),
                cache=cache,
                max_new_tokens=max_tokens,
                pad_token_id=self._tokenizer.pad_token_id,
                **sampling,
            )
            latency = time.perf_counter() - started
        prompt = len(ids)
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        completions = []
        for generated in (output[i % rows, prompt:] for i in range(n)):
            tokens = generated.tolist()  # a batch pads a finished row after its end: cut at the first EOS
            length = next((i + 1 for i, token in enumerate(tokens) if token in eos_ids), len(tokens))
            stopped = length > 0 and tokens[length - 1] in eos_ids
            completions.append(
                Completion(
                    text=self._tokenizer.decode(tokens[:length], skip_special_tokens=True),
                    finish_reason="stop" if stopped else "length",
                    prompt_tokens=prompt,
                    completion_tokens=length,
                    latency=latency,
                )
            )
        tokens = sum(c.completion_tokens for c in completions)
        self.usage.record(completions=n, prompt_tokens=prompt, completion_tokens=tokens, latency=latency)
        return completions
