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

Batching: requests that arrive while the model is busy wait, and those alike in sampling
(temperature, top_p, schema or none) are decoded together in one generation, up to `max_batch`
rows. Each prompt is read on its own (sharing with the previous one, see the prefix cache), and
the caches are left-padded into one: on 2 CPU cores a row of a batch of 8 or more decodes a
token in ~16 ms, a lone row in ~65 ms (`bench/hf_prefix.py` times whole agent steps). A sampled
answer then depends on the batch it was decoded in; a lone request (nothing else waiting)
repeats its answers under the seed.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass(eq=False)  # two requests are the same only if they are one
class _Request:
    """One chat request waiting for a generation: its prompt's token ids and its sampling."""

    ids: list[int]
    n: int
    max_tokens: int
    schema: Schema | None
    sampling: tuple[float, float]  # temperature and top_p; (0, 1) is greedy
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Completion] | BaseException | None = None

    @property
    def rows(self) -> int:
        """Rows of the batch it takes: one per sample, a single one for greedy answers."""
        return self.n if self.sampling[0] > 0 else 1

    def alike(self, other: _Request) -> bool:
        """Whether the two can share a generation."""
        return self.sampling == other.sampling and (self.schema is None) == (other.schema is None)


class TransformersChatModel:
    """A `ChatModel` on a transformers model in this process, one generation at a time.

    Greedy at temperature 0, sampling otherwise: a request's `n` samples are rows of one
    generation, seeded with `seed` (so a repeated call repeats its answers). `structured`: "auto"
    or "on" decode under a request's schema (where lm-format-enforcer is installed), "off" ignores
    schemas. `prefix_cache`: a prompt reads only what follows the part it shares with the previous
    one (off: every prompt is read whole). `max_batch`: rows decoded together, from requests that
    wait at once (1: one request at a time). `bench/hf_prefix.py` measures both.
    """

    def __init__(
        self, path: str | Path, *, device: str | None = None, seed: int = 0, structured: str = "auto",
        prefix_cache: bool = True, max_batch: int = 16,
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
        self._waiting: list[_Request] = []  # requests not yet taken into a generation
        self._waiting_lock = threading.Lock()
        self._max_batch = max(1, max_batch)
        self.generations = 0  # generate calls: a batch of requests is one
        self._threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="hf")  # mostly waiting
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
        ids = self._tokenizer.apply_chat_template(
            _text_messages(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"][0].tolist()
        sampling = (temperature, top_p) if temperature > 0 else (0.0, 1.0)
        request = _Request(ids, n, max_tokens, schema, sampling)
        with self._waiting_lock:
            self._waiting.append(request)
        await asyncio.get_running_loop().run_in_executor(self._threads, self._serve, request)
        completions = request.result
        if isinstance(completions, BaseException):
            raise completions
        assert completions is not None
        self.usage.record(  # here, not in the thread that ran the batch: the caller's ledger counts it
            completions=n, prompt_tokens=len(ids), latency=completions[0].latency,
            completion_tokens=sum(c.completion_tokens for c in completions),
        )  # fmt: skip
        return completions

    def _serve(self, request: _Request) -> None:
        """Answer `request`, and the requests alike that wait with it, unless a batch took it."""
        with self._lock:
            if request.done.is_set():
                return
            batch = self._take(request)
            try:
                for taken, completions in zip(batch, self._generate(batch), strict=True):
                    taken.result = completions
            except BaseException as exc:  # every request of the batch gets the error
                for taken in batch:
                    taken.result = exc
            for taken in batch:
                taken.done.set()

    def _take(self, request: _Request) -> list[_Request]:
        """`request` and the waiting requests alike, up to `max_batch` rows, out of the queue."""
        with self._waiting_lock:
            batch, rows = [request], request.rows
            for other in self._waiting:
                if other is not request and request.alike(other) and rows + other.rows <= self._max_batch:
                    batch.append(other)
                    rows += other.rows
            self._waiting = [w for w in self._waiting if w not in batch]
        return batch

    def _allowed_tokens(self, schema: Schema) -> Any:
        """The tokens that keep a row's decoding (its token ids so far) within `schema`."""
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
        return lambda tokens: enforcer.get_allowed_tokens(tokens.tolist()).allowed_tokens

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

    def _generate(self, batch: list[_Request]) -> list[list[Completion]]:
        """One generation for `batch` (requests alike): each prompt read on its own (neighbours in
        token order share the most, see `_prefilled`), the caches left-padded into one, every row
        decoded together (a request's samples are rows of their own; a greedy answer one row)."""
        import torch

        temperature, top_p = batch[0].sampling
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
            if temperature > 0
            else {"do_sample": False}
        )
        owner = [i for i, request in enumerate(batch) for _ in range(request.rows)]  # each row's request
        width = max(len(request.ids) for request in batch)
        pad = self._tokenizer.pad_token_id
        pad = pad if pad is not None else self._tokenizer.eos_token_id
        ids = [[pad] * (width - len(batch[i].ids)) + batch[i].ids for i in owner]
        mask = [[0] * (width - len(batch[i].ids)) + [1] * len(batch[i].ids) for i in owner]
        with torch.no_grad():
            started = time.perf_counter()
            caches = {
                i: self._prefilled(batch[i].ids)
                for i in sorted(range(len(batch)), key=lambda i: batch[i].ids)
            }
            if len(batch) == 1:
                cache = caches[0]
                cache.batch_repeat_interleave(len(owner))
            else:
                cache = _left_padded([caches[i] for i in owner], width - 1)
            if batch[0].schema is not None:
                follow = [self._allowed_tokens(request.schema or {}) for request in batch]
                sampling["prefix_allowed_tokens_fn"] = lambda row, tokens: follow[owner[row]](tokens)
            torch.manual_seed(self._seed)
            self.generations += 1
            output = self._model.generate(
                input_ids=torch.tensor(ids, device=self._device),
                attention_mask=torch.tensor(mask, device=self._device),
                cache=cache,
                max_new_tokens=max(request.max_tokens for request in batch),
                pad_token_id=pad,
                **sampling,
            )
            latency = time.perf_counter() - started
        generated = output[:, width:].tolist()
        logger.debug(
            "%s: %d requests, %d rows, prompts of %d tokens at most, %d tokens decoded, %.2f s",
            self.name, len(batch), len(owner), width, len(generated[0]), latency,
        )  # fmt: skip
        answers, start = [], 0
        for request in batch:  # its rows follow the rows of the requests before it
            answers.append(self._completions(request, generated[start : start + request.rows], latency))
            start += request.rows
        return answers

    def _completions(self, request: _Request, rows: list[list[int]], latency: float) -> list[Completion]:
        """`request`'s `n` completions from its rows of generated tokens (greedy: one row, repeated)."""
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        prompt = len(request.ids)
        completions = []
        for k in range(request.n):
            tokens = rows[k % len(rows)][: request.max_tokens]  # a finished row is padded: cut at EOS
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
        return completions


def _left_padded(caches: list[Any], length: int) -> Any:
    """One batch cache of single-row `caches` (a row each), each left-padded to `length` tokens: the
    padding is masked out, and positions follow the mask, so every row reads as it would alone."""
    import torch
    from transformers import DynamicCache

    merged = DynamicCache()
    for layer in range(len(caches[0].layers)):
        keys, values = (
            torch.cat([_pad_left(getattr(c.layers[layer], part), length) for c in caches])
            for part in ("keys", "values")
        )
        merged.update(keys, values, layer)
    return merged


def _pad_left(states: Any, length: int) -> Any:
    """Key or value states `[batch, heads, tokens, dim]` with zeros before the tokens, to `length`."""
    import torch.nn.functional as F

    return F.pad(states, (0, 0, length - states.shape[-2], 0))
