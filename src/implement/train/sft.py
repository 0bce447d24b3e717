"""Supervised fine-tuning of the world model: TRL `SFTTrainer` with a LoRA adapter.

Both modes (`curated_samples_perception.jsonl`, `curated_samples_prediction.jsonl`) go
into one shuffled dataset in TRL's conversational prompt-completion format: the prompt
is every message but the last, the completion is the assistant's answer, so the loss is
on the answer's tokens only (TRL's `completion_only_loss`, its default for this format).

One GPU or CPU: call `train_world_model`. Several GPUs: run the same code under
`accelerate launch --num_processes N -m implement.cli ...` (the Trainer handles
distribution; nothing else changes).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from implement.config import TrainingConfig
from implement.errors import DataError
from implement.llm.base import message_text
from implement.prompts import prompt_versions
from implement.train.base_models import resolve_base_model

if TYPE_CHECKING:
    from trl import SFTConfig, SFTTrainer

logger = logging.getLogger(__name__)

MODES = ("perception", "prediction")
SAMPLE_FILES = {mode: f"curated_samples_{mode}.jsonl" for mode in MODES}
TRAIN_INFO = "implement_train.json"
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Sample:
    """One curated training conversation (OpenAI-style messages, ending with the answer)."""

    mode: str
    game: str
    messages: list[dict[str, Any]]

    @property
    def has_image(self) -> bool:
        return any(
            part.get("type") == "image_url"
            for message in self.messages
            if isinstance(message["content"], list)
            for part in message["content"]
        )


@dataclass(frozen=True)
class TrainResult:
    """What a training run did; also written to `implement_train.json` in `output_dir`."""

    output_dir: Path
    base_model: str
    steps: int
    train_samples: int
    eval_samples: int
    samples_by_mode: dict[str, int]
    skipped: dict[str, int]  # reason -> samples left out (malformed lines, too long)
    train_losses: list[float] = field(default_factory=list)  # logged training losses, in order
    eval_loss_before: float | None = None
    eval_loss: float | None = None
    seconds: float = 0.0

    @property
    def first_loss(self) -> float | None:
        return self.train_losses[0] if self.train_losses else None

    @property
    def last_loss(self) -> float | None:
        return self.train_losses[-1] if self.train_losses else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "output_dir": str(self.output_dir)}


def _part_ok(part: Any) -> bool:
    """An OpenAI-style content part: {"type": "text", "text": ...} or an image_url one."""
    if not isinstance(part, dict):
        return False
    if part.get("type") == "text":
        return isinstance(part.get("text"), str)
    image = part.get("image_url")
    return part.get("type") == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str)


def _sample_problem(record: Any) -> str | None:
    """Why a parsed JSON line is not a usable sample (None when it is)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("mode") not in MODES:
        return f"mode must be one of {', '.join(MODES)}, got {record.get('mode')!r}"
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        return "messages must be a list of at least 2 messages"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"each message needs a role in {', '.join(ROLES)}"
        content = message.get("content")
        if not isinstance(content, str) and not (isinstance(content, list) and all(map(_part_ok, content))):
            return "each message content must be a string or a list of text and image_url parts"
    if messages[-1]["role"] != "assistant" or not isinstance(messages[-1]["content"], str):
        return "the last message must be the assistant's answer (a string)"
    return None


def load_samples(data_dir: str | Path) -> tuple[list[Sample], dict[str, int]]:
    """The valid samples of both modes and, per reason, the malformed lines skipped."""
    data_dir = Path(data_dir)
    expected = " and/or ".join(SAMPLE_FILES.values())
    if not data_dir.is_dir():
        raise DataError(f"training data directory {data_dir} not found; expected it to hold {expected}")
    paths = [data_dir / name for name in SAMPLE_FILES.values() if (data_dir / name).is_file()]
    if not paths:
        raise DataError(f"no curated samples in {data_dir}: expected {expected}")
    samples: list[Sample] = []
    skipped: Counter[str] = Counter()
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                problem: str | None
                try:
                    record = json.loads(line)
                except ValueError:
                    problem, reason = "not valid JSON", "not_json"
                else:
                    problem = _sample_problem(record)
                    reason = "bad_sample"
                if problem is not None:
                    logger.warning("%s:%d: skipped, %s", path, number, problem)
                    skipped[reason] += 1
                    continue
                samples.append(Sample(record["mode"], str(record.get("game", "")), record["messages"]))
    if not samples:
        raise DataError(
            f"no valid training sample in {', '.join(map(str, paths))} "
            f"({sum(skipped.values())} malformed lines skipped; see the warnings)"
        )
    return samples, dict(skipped)


def split_samples(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Shuffle (seeded) and hold out `fraction` for validation: at least 1 of 2 or more samples."""
    shuffled = list(samples)
    random.Random(seed).shuffle(shuffled)
    n_eval = (
        0
        if len(shuffled) < 2 or fraction <= 0
        else min(len(shuffled) - 1, max(1, round(len(shuffled) * fraction)))
    )
    return shuffled[n_eval:], shuffled[:n_eval]


def _decode_image(url: str) -> Any:
    """A PIL image from a `data:image/...;base64,` URL (the frames curated samples carry)."""
    from PIL import Image

    if not url.startswith("data:image/"):
        raise DataError(f"only data:image/...;base64 frames can be trained on, got {url[:40]!r}...")
    try:
        return Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert("RGB")
    except (ValueError, OSError) as exc:
        raise DataError(f"a sample's frame is not a readable image: {exc}") from exc


def _vision_example(sample: Sample) -> dict[str, Any]:
    """TRL's vision format: every content a list of parts, {"type": "image"} where a frame
    was, the images alongside.

    Only for vision-language base models (Qwen2.5-VL) on a GPU; not exercised by the tests.
    """
    images: list[Any] = []
    messages = []
    for message in sample.messages:
        content = message["content"]
        given: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else content
        )
        parts: list[dict[str, Any]] = []
        for part in given:
            if part["type"] == "image_url":
                images.append(_decode_image(part["image_url"]["url"]))
                parts.append({"type": "image"})
            else:
                parts.append({"type": "text", "text": part["text"]})
        messages.append({"role": message["role"], "content": parts})
    return {"prompt": messages[:-1], "completion": messages[-1:], "images": images}


def to_example(sample: Sample, *, vision: bool) -> dict[str, Any]:
    """A sample as a TRL conversational prompt-completion example."""
    if vision:
        return _vision_example(sample)
    messages = [{"role": m["role"], "content": message_text(m)} for m in sample.messages]
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def _is_vision_model(model_name: str) -> bool:
    from transformers import AutoConfig

    return hasattr(AutoConfig.from_pretrained(model_name), "vision_config")


@dataclass
class PreparedTraining:
    """A ready `SFTTrainer` and what went into it (see `prepare_training`)."""

    trainer: SFTTrainer
    base_model: str
    model_path: str
    train_samples: int
    eval_samples: int
    samples_by_mode: dict[str, int]
    skipped: dict[str, int]


def logging_steps(config: TrainingConfig) -> int:
    """`config.logging_steps`, else every step of a short run (<= 50 steps) and every 10th of a long one."""
    if config.logging_steps is not None:
        return config.logging_steps
    return 1 if config.max_steps is not None and config.max_steps <= 50 else 10


def prepare_training(
    data_dir: str | Path, output_dir: str | Path, config: TrainingConfig
) -> PreparedTraining:
    """Load the samples, the base model and its LoRA adapter, and build the trainer.

    `config.device` is "cpu" or "cuda" (default: cuda when available); bf16 on CUDA, fp32 on CPU.
    `config.max_steps` (default: `config.epochs` epochs) caps the optimizer steps. A checkpoint is
    kept every `config.save_steps` steps in `output_dir` (the last two), to resume a stopped run.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTTrainer

    samples, skipped = load_samples(data_dir)
    base_model = config.base_model
    model_path = resolve_base_model(base_model)
    vision = any(sample.has_image for sample in samples)  # TRL's vision format, for all samples
    if vision and not _is_vision_model(model_path):
        raise DataError(
            f"the samples in {data_dir} carry images but the base model {base_model} is text-only; "
            "curate without frames or train a vision-language model (e.g. Qwen/Qwen2.5-VL-7B-Instruct)"
        )
    train, held_out = split_samples(samples, config.validation_fraction, config.seed)
    cuda = torch.cuda.is_available() if config.device is None else config.device.startswith("cuda")
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )

    def dataset(part: list[Sample]) -> Dataset:
        return Dataset.from_list([to_example(sample, vision=vision) for sample in part])

    # The model is given by path: TRL picks the class (causal LM or vision-language) and the
    # processing class (a tokenizer, or the processor of a VL model).
    trainer = SFTTrainer(
        model=model_path,
        args=_sft_config(config, output_dir, cuda=cuda),
        train_dataset=dataset(train),
        eval_dataset=dataset(held_out) if held_out else None,
        peft_config=lora,
    )
    kept = _kept_samples(trainer, len(train), config)
    if kept < len(train):
        skipped = {**skipped, "too_long": len(train) - kept}
    return PreparedTraining(
        trainer=trainer,
        base_model=base_model,
        model_path=model_path,
        train_samples=kept,
        eval_samples=len(held_out),
        samples_by_mode=dict(Counter(sample.mode for sample in samples)),
        skipped=skipped,
    )


def _sft_config(config: TrainingConfig, output_dir: str | Path, *, cuda: bool) -> SFTConfig:
    """TRL's `SFTConfig` of a run: bf16 on CUDA, fp32 on CPU, a checkpoint every `save_steps`."""
    import torch
    from trl import SFTConfig

    fields = SFTConfig.__dataclass_fields__  # transformers 5 renamed gradient_checkpointing
    name = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    checkpointing: dict[str, Any] = {name: True}
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        max_grad_norm=config.max_grad_norm,
        weight_decay=config.weight_decay,
        max_length=config.max_length,
        bf16=cuda,
        use_cpu=not cuda,
        # on CPU too: ALFWorld prompts are ~2k tokens, and 4 of them OOM 24 GB without it (13.5 GB with)
        **checkpointing,
        model_init_kwargs={"dtype": torch.bfloat16 if cuda else torch.float32},
        logging_steps=logging_steps(config),
        eval_strategy="no",  # evaluated before and after, by `train_world_model`
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
    )


def _kept_samples(trainer: SFTTrainer, offered: int, config: TrainingConfig) -> int:
    """How many of the `offered` training samples TRL kept (it drops those whose prompt fills max_length)."""
    prepared: Any = trainer.train_dataset  # tokenized, unless TRL prepares a vision dataset on the fly
    kept = len(prepared) if "input_ids" in prepared.column_names else offered
    if kept < offered:
        logger.warning(
            "%d samples left out: their prompt is longer than %d tokens", offered - kept, config.max_length
        )
    if kept == 0:
        raise DataError(f"no training sample fits in max_length={config.max_length} tokens; raise max_length")
    return kept


def train_world_model(
    data_dir: str | Path,
    output_dir: str | Path,
    config: TrainingConfig,
    *,
    resume: bool = False,
) -> TrainResult:
    """Fine-tune a LoRA adapter on the curated samples and save it (with the tokenizer)
    to `output_dir`, along with `implement_train.json`; `resume` continues from the newest
    checkpoint in `output_dir`."""
    import peft
    import torch
    import transformers
    import trl

    started = time.perf_counter()
    output_dir = Path(output_dir)
    if resume and not any(output_dir.glob("checkpoint-*")):
        raise DataError(f"nothing to resume: {output_dir} holds no checkpoint-* folder")
    prepared = prepare_training(data_dir, output_dir, config)
    trainer = prepared.trainer
    evaluate = trainer.eval_dataset is not None
    eval_before = trainer.evaluate()["eval_loss"] if evaluate and not resume else None
    trainer.train(resume_from_checkpoint=True if resume else None)
    eval_after = trainer.evaluate()["eval_loss"] if evaluate else None
    trainer.save_model(str(output_dir))
    result = TrainResult(
        output_dir=output_dir,
        base_model=prepared.base_model,
        steps=trainer.state.global_step,
        train_samples=prepared.train_samples,
        eval_samples=prepared.eval_samples,
        samples_by_mode=prepared.samples_by_mode,
        skipped=prepared.skipped,
        train_losses=[float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry],
        eval_loss_before=eval_before,
        eval_loss=eval_after,
        seconds=time.perf_counter() - started,
    )
    if trainer.is_world_process_zero():
        info = {
            **result.to_dict(),
            "model_path": prepared.model_path,
            "config": asdict(config),
            "versions": {
                "torch": torch.__version__, "transformers": transformers.__version__,
                "peft": peft.__version__, "trl": trl.__version__,
            },
            "prompt_versions": prompt_versions(),
        }  # fmt: skip
        (output_dir / TRAIN_INFO).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    logger.info(
        "trained %d steps on %d samples in %.0fs: loss %s -> %s, eval loss %s -> %s", result.steps,
        result.train_samples, result.seconds, result.first_loss, result.last_loss, eval_before, eval_after,
    )  # fmt: skip
    return result
