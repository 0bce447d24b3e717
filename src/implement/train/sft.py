"""Supervised fine-tuning of the world model: TRL `SFTTrainer`, with a LoRA adapter (the
paper's, `training.method = "lora"`) or on every weight (`"full"`, for small models on CPU).

Both modes (`curated_samples_perception.jsonl`, `curated_samples_prediction.jsonl`) go
into one shuffled dataset in TRL's conversational prompt-completion format: the prompt
is every message but the last, the completion is the assistant's answer, so the loss is
on the answer's tokens only (TRL's `completion_only_loss`, its default for this format).

One GPU or CPU: call `train_world_model`. Several GPUs: run the same code under
`accelerate launch --num_processes N -m implement.cli ...` (the Trainer handles
distribution; nothing else changes).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from implement.config import TrainingConfig
from implement.errors import DataError
from implement.prompts import prompt_versions
from implement.train.base_models import resolve_base_model
from implement.train.curve import CURVE_SVG, learning_curve, plot_curve
from implement.train.samples import Sample, load_samples, split_samples, to_example

if TYPE_CHECKING:
    from trl import SFTConfig, SFTTrainer

logger = logging.getLogger(__name__)

TRAIN_INFO = "implement_train.json"


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
    curve: dict[str, list[list[float]]] = field(default_factory=dict)  # series -> [[step, loss], ...]
    eval_loss_before: float | None = None
    eval_loss: float | None = None
    seconds: float = 0.0

    @property
    def first_loss(self) -> float | None:
        return self.train_losses[0] if self.train_losses else None

    @property
    def last_loss(self) -> float | None:
        return self.train_losses[-1] if self.train_losses else None

    @property
    def loss_curve(self) -> Path | None:
        """The plot of `curve` (written with the model), or None when nothing was logged."""
        return self.output_dir / CURVE_SVG if any(self.curve.values()) else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "output_dir": str(self.output_dir)}


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
        peft_config=lora if config.method == "lora" else None,  # "full": every weight is trained
        callbacks=[_time_limit(config.max_minutes)] if config.max_minutes else None,
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
    checkpointing: dict[str, Any] = {name: config.gradient_checkpointing}
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
        # on by default, on CPU too: 4 full-state prompts (~2k tokens) OOM 24 GB without it (13.5 GB with)
        **checkpointing,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        model_init_kwargs={"dtype": torch.bfloat16 if cuda else torch.float32},
        logging_steps=logging_steps(config),
        # evaluated before and after by `train_world_model`, and every `eval_steps` if set
        eval_strategy="steps" if config.eval_steps else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
    )


def _time_limit(minutes: float) -> Any:
    """A Trainer callback that ends training at the first step end `minutes` after training began
    (tokenizing and the validation pass before it do not count)."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        def __init__(self) -> None:
            self.started = time.perf_counter()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self.started = time.perf_counter()  # the Trainer is built, its data tokenized, long before
            return control

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if time.perf_counter() - self.started > minutes * 60:
                logger.info("training stopped at step %d: %g minutes are up", state.global_step, minutes)
                control.should_training_stop = True
            return control

    return TimeLimit()


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


def _write_outputs(result: TrainResult, prepared: PreparedTraining, config: TrainingConfig) -> None:
    """`implement_train.json` (the run, its settings and versions) and the loss plot, in `output_dir`."""
    import peft
    import torch
    import transformers
    import trl

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
    out = result.output_dir
    (out / TRAIN_INFO).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    if result.loss_curve is not None:
        plot_curve(result.curve, result.loss_curve, f"{prepared.base_model}, {config.method}")


def _final_eval_loss(trainer: Any) -> float:
    """The validation loss after training: the one logged at the last step, else a new pass."""
    logged = {e.get("step"): e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e}
    step = trainer.state.global_step
    return float(logged[step]) if step in logged else float(trainer.evaluate()["eval_loss"])


def train_world_model(
    data_dir: str | Path,
    output_dir: str | Path,
    config: TrainingConfig,
    *,
    resume: bool = False,
) -> TrainResult:
    """Fine-tune on the curated samples and save the adapter, or the whole model (with the
    tokenizer) to `output_dir`, along with `implement_train.json` (its learning curve) and
    `loss_curve.svg`; `resume` continues from the newest checkpoint in `output_dir`."""
    started = time.perf_counter()
    output_dir = Path(output_dir)
    if resume and not any(output_dir.glob("checkpoint-*")):
        raise DataError(f"nothing to resume: {output_dir} holds no checkpoint-* folder")
    prepared = prepare_training(data_dir, output_dir, config)
    trainer = prepared.trainer
    evaluate = trainer.eval_dataset is not None
    eval_before = trainer.evaluate()["eval_loss"] if evaluate and not resume else None
    trainer.train(resume_from_checkpoint=True if resume else None)
    eval_after = _final_eval_loss(trainer) if evaluate else None
    # the pass before training went to a log history that `train` started afresh: put it first
    before = [{"eval_loss": eval_before, "step": 0}] if eval_before is not None else []
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
        curve=learning_curve([*before, *trainer.state.log_history]),
        eval_loss_before=eval_before,
        eval_loss=eval_after,
        seconds=time.perf_counter() - started,
    )
    if trainer.is_world_process_zero():
        _write_outputs(result, prepared, config)
    logger.info(
        "trained %d steps on %d samples in %.0fs: loss %s -> %s, eval loss %s -> %s", result.steps,
        result.train_samples, result.seconds, result.first_loss, result.last_loss, eval_before, eval_after,
    )  # fmt: skip
    return result
