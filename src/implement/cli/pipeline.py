"""The training pipeline: `collect`, `prepare`, `curate`, `extract-conditions`, `train`."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from implement.cli.common import (
    ConfigOption,
    JsonOption,
    fails_cleanly,
    print_report,
    progress_bar,
    report_skips,
)
from implement.config import CollectConfig, TrainingConfig, WorldModelConfig
from implement.errors import ImplementError

DialectOption = Annotated[
    str | None,
    typer.Option(
        help="State conventions written: implement, or reference (the paper's code; world_model.dialect).",
        show_default=WorldModelConfig.dialect,
    ),
]

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Answers written: state (the whole next state) or diff (what changes; world_model.format).",
        show_default=WorldModelConfig.format,
    ),
]


@fails_cleanly
def collect_cmd(
    out: Annotated[Path, typer.Option(help="Output directory (trajectories.jsonl, collect.json).")],
    split: Annotated[
        str | None, typer.Option(help="ALFWorld split to play.", show_default=CollectConfig.split)
    ] = None,
    num_tasks: Annotated[
        int | None, typer.Option(help="Seeded sample of this many games (default: the whole split).")
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Environments played in parallel.", show_default=str(CollectConfig.batch_size)),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Steps per episode.", show_default=str(CollectConfig.max_steps))
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the task sample and the behaviour policy.", show_default=str(CollectConfig.seed)
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the collection in --out.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Play games with the behaviour policy (expert 0.2, admissible 0.4, seen 0.4) and record transitions."""
    from implement.config import load_config
    from implement.data.collect import collect, open_collection

    flags = {
        "--split": ("collect.split", split), "--num-tasks": ("collect.num_tasks", num_tasks),
        "--batch-size": ("collect.batch_size", batch_size), "--max-steps": ("collect.max_steps", max_steps),
        "--seed": ("collect.seed", seed),
    }  # fmt: skip
    cfg = load_config(config, flags=flags)
    games = open_collection(cfg, out, resume=resume)
    with progress_bar("collect", len(games)) as bar:
        counts = collect(cfg, out, games, on_trajectory=lambda record: bar.advance())
    print_report({**counts, "out": str(out)}, f"collected from {cfg.collect.split}", as_json)


@fails_cleanly
def prepare_cmd(
    data_dirs: Annotated[
        list[Path], typer.Option(help="Directories written by `implement collect` (repeat).")
    ],
    out: Annotated[Path, typer.Option(help="Output directory (samples and conditions/).")],
    seed: Annotated[int, typer.Option(help="Seed of the condition subsets.")] = 0,
    dialect: DialectOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Training samples with random subsets of their task's MetaICL conditions."""
    from implement.config import load_config
    from implement.data.prepare import prepare

    cfg = load_config(config, flags={"--dialect": ("world_model.dialect", dialect)})
    out.mkdir(parents=True, exist_ok=True)
    report = prepare(data_dirs, out, seed=seed, dialect=cfg.world_model.dialect)
    report_skips(report.skipped)
    print_report(
        {**report.to_dict(), "dialect": cfg.world_model.dialect, "out": str(out)}, "prepared samples", as_json
    )


@fails_cleanly
def curate_cmd(
    input_files: Annotated[
        list[Path], typer.Option("--input", help="training_samples_metaicl.jsonl from prepare (repeat).")
    ],
    out: Annotated[Path, typer.Option(help="Output directory (curated_samples_*.jsonl).")],
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder holding conditions/ (default: each input's folder).")
    ] = None,
    dialect: DialectOption = None,
    answer_format: FormatOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Chat conversations for [PER] and [PRE] training, with the prompts used at inference."""
    from implement.config import load_config
    from implement.data.curate import curate

    flags = {"--dialect": ("world_model.dialect", dialect), "--format": ("world_model.format", answer_format)}
    cfg = load_config(config, flags=flags)
    wm = cfg.world_model
    report = curate(input_files, out, data_dir=data_dir, dialect=wm.dialect, format=wm.format)
    report_skips(report.skipped)
    summary = {**report.to_dict(), "dialect": wm.dialect, "format": wm.format, "out": str(out)}
    print_report(summary, "curated samples", as_json)


@fails_cleanly
def extract_conditions_cmd(
    eval_dirs: Annotated[list[Path], typer.Option("--eval-dir", help="Evaluation run directory (repeat).")],
    out: Annotated[Path, typer.Option(help="Conditions directory to write.")],
    as_json: JsonOption = False,
) -> None:
    """MetaICL conditions (object_lists.json, failed_actions.json) from evaluation runs."""
    from implement.metaicl import extract_conditions, write_conditions

    skipped: list[str] = []
    conditions = extract_conditions(eval_dirs, skipped=skipped)
    write_conditions(out, conditions)
    report_skips(skipped)
    report = {
        "games": len(conditions),
        "object_lists": sum(len(c.object_lists) for c in conditions.values()),
        "failed_actions": sum(len(c.failed_actions) for c in conditions.values()),
        "out": str(out),
    }
    print_report(report, "extracted conditions", as_json)


# `train`'s longer options.
DataDirOption = Annotated[
    Path, typer.Option(help="Folder with curated_samples_{perception,prediction}.jsonl.")
]
OutputDirOption = Annotated[Path, typer.Option(help="Where the LoRA adapter and implement_train.json go.")]
BaseModelOption = Annotated[
    str | None,
    typer.Option(help="smollm2-135m (embedded, CPU), a checkpoint dir, or a hub id (default: config)."),
]
MaxLengthOption = Annotated[
    int | None,
    typer.Option(help="Tokens per sample (prompt + answer).", show_default=str(TrainingConfig.max_length)),
]
TrainSeedOption = Annotated[
    int | None,
    typer.Option(help="Seed of the split, shuffling and LoRA init.", show_default=str(TrainingConfig.seed)),
]
SaveStepsOption = Annotated[
    int | None,
    typer.Option(
        help="Keep a checkpoint every N steps (the last two).", show_default=str(TrainingConfig.save_steps)
    ),
]


@fails_cleanly
def train_cmd(
    data_dir: DataDirOption,
    output_dir: OutputDirOption,
    base_model: BaseModelOption = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (paper: 3).")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate (paper: 2e-5).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Per-device batch size (paper: 4).")] = None,
    gradient_accumulation: Annotated[
        int | None, typer.Option(help="Gradient accumulation (paper: 4).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    max_length: MaxLengthOption = None,
    seed: TrainSeedOption = None,
    save_steps: SaveStepsOption = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --output-dir.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Fine-tune the world model on both modes (TRL SFTTrainer, LoRA or full, loss on the answers only)."""
    from implement.config import load_config

    flags = {
        "--base-model": ("training.base_model", base_model), "--epochs": ("training.epochs", epochs),
        "--learning-rate": ("training.learning_rate", learning_rate),
        "--batch-size": ("training.batch_size", batch_size),
        "--gradient-accumulation": ("training.gradient_accumulation", gradient_accumulation),
        "--max-steps": ("training.max_steps", max_steps), "--max-length": ("training.max_length", max_length),
        "--seed": ("training.seed", seed), "--save-steps": ("training.save_steps", save_steps),
    }  # fmt: skip
    cfg = load_config(config, flags=flags)
    report = _train(data_dir, output_dir, cfg.training, resume=resume)
    print_report(report, "world-model training", as_json)


def _train(data_dir: Path, output_dir: Path, config: TrainingConfig, *, resume: bool) -> dict[str, Any]:
    """Train the world model (the train extra's code, its logs on stderr); the report of the run."""
    try:
        from implement.train.sft import train_world_model
    except ImportError as exc:
        raise ImplementError(
            f"training needs the train extra ({exc}); see README, `make install-train`"
        ) from exc
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is the report
        result = train_world_model(data_dir, output_dir, config, resume=resume)
    return {
        "output_dir": str(result.output_dir), "base_model": result.base_model, "steps": result.steps,
        "train_samples": result.train_samples, "eval_samples": result.eval_samples,
        "skipped": result.skipped, "first_loss": result.first_loss, "last_loss": result.last_loss,
        "eval_loss_before": result.eval_loss_before, "eval_loss": result.eval_loss,
        "seconds": round(result.seconds, 1), "world_model_spec": f"hf:{result.output_dir}",
        "loss_curve": str(result.loss_curve) if result.loss_curve else None,
    }  # fmt: skip
