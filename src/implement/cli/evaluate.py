"""`implement evaluate` and `implement report`: play games × trials into a run directory, report it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from implement.cli.common import (
    ConfigOption,
    ImaginationOption,
    JsonOption,
    MetaiclOption,
    PolicyOption,
    ProfileOption,
    SummarizerOption,
    WorldModelOption,
    console,
    fails_cleanly,
    print_json,
    progress_bar,
)
from implement.errors import ImplementError

if TYPE_CHECKING:
    from implement.config import Config


# `evaluate`'s options.
AgentOption = Annotated[
    str | None, typer.Option(help="Agent: implement (default), vanilla, react, reflexion, expert, random.")
]
RolloutDepthOption = Annotated[
    int | None,
    typer.Option(
        help="Multi-step imagination (beyond the paper): steps rolled further; for LLM policies only."
    ),
]
ReplaySolvedOption = Annotated[
    bool | None, typer.Option(help="Play solved games again in later trials (adaptation per trial).")
]
ApiUrlOption = Annotated[
    str | None, typer.Option(help="Run the agent on an `implement serve` server at this URL.")
]
ConditionsOption = Annotated[
    Path | None,
    typer.Option(help="MetaICL conditions directory (from extract-conditions) to start each game's memory."),
]
SplitOption = Annotated[str | None, typer.Option(help="ALFWorld split (default valid_seen).")]
GamesOption = Annotated[int | None, typer.Option(help="Seeded sample of this many games (default: all).")]
TrialsOption = Annotated[int | None, typer.Option(help="Trials per game (paper: 12).")]
ParallelOption = Annotated[int | None, typer.Option(help="Environments played at once (paper: 5).")]
MaxStepsOption = Annotated[int | None, typer.Option(help="Steps per episode (paper: 30).")]
SeedOption = Annotated[int | None, typer.Option(help="Seed of sampling and random choices.")]
OutOption = Annotated[Path | None, typer.Option(help="Run directory (default runs/<agent>-<split>-<time>).")]
ResumeOption = Annotated[bool, typer.Option(help="Continue the run in --out, skipping finished episodes.")]
RetryErrorsOption = Annotated[
    bool | None,
    typer.Option(help="With --resume, play errored episodes again (default); --no-retry-errors keeps them."),
]


def _print_summary(summary: dict[str, Any]) -> None:
    from implement.eval.report import summary_tables

    for table in summary_tables(summary):
        Console().print(table)


@fails_cleanly
def evaluate_cmd(
    agent: AgentOption = None,
    policy: PolicyOption = None,
    world_model: WorldModelOption = None,
    summarizer: SummarizerOption = None,
    imagination: ImaginationOption = None,
    metaicl: MetaiclOption = None,
    rollout_depth: RolloutDepthOption = None,
    replay_solved: ReplaySolvedOption = None,
    api_url: ApiUrlOption = None,
    conditions: ConditionsOption = None,
    split: SplitOption = None,
    games: GamesOption = None,
    trials: TrialsOption = None,
    parallel: ParallelOption = None,
    max_steps: MaxStepsOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    resume: ResumeOption = False,
    retry_errors: RetryErrorsOption = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Play games × trials with an agent into a resumable run directory and report SR@k."""
    from implement.config import load_config

    flags: dict[str, tuple[str, Any]] = {
        "--agent": ("evaluation.agent", agent), "--games": ("evaluation.games", games),
        "--trials": ("evaluation.trials", trials), "--parallel": ("evaluation.parallel", parallel),
        "--seed": ("evaluation.seed", seed), "--replay-solved": ("evaluation.replay_solved", replay_solved),
        "--conditions": ("evaluation.conditions", str(conditions) if conditions else None),
        "--api-url": ("evaluation.api_url", api_url), "--out": ("evaluation.out", str(out) if out else None),
        "--retry-errors": ("evaluation.retry_errors", retry_errors),
        "--split": ("environment.split", split), "--max-steps": ("environment.max_steps", max_steps),
        "--policy": ("policy.model", policy), "--summarizer": ("policy.summarizer", summarizer),
        "--imagination": ("policy.imagination", imagination), "--metaicl": ("policy.metaicl", metaicl),
        "--rollout-depth": ("policy.rollout_depth", rollout_depth),
        "--world-model": ("world_model.model", world_model), "--profile": ("profile", profile),
    }  # fmt: skip
    summary = _play(load_config(config, flags=flags), resume=resume)
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
        console.print(f"run directory: {summary['run_dir']}")


def _play(cfg: Config, *, resume: bool) -> dict[str, Any]:
    """Play the configured evaluation into its run directory, with a progress bar; its summary."""
    from implement.eval.rundir import default_run_dir
    from implement.eval.runner import Progress, evaluate

    if cfg.evaluation.out is None and resume:
        raise ImplementError("--resume needs --out, the run directory to continue")
    run_dir = Path(cfg.evaluation.out) if cfg.evaluation.out else default_run_dir(cfg)
    with progress_bar(won=True) as bar:
        progress = Progress(
            on_trial=lambda trial, pending: bar.stage(f"trial {trial}/{cfg.evaluation.trials}", pending),
            on_episode=lambda record: bar.advance(won=bool(record["won"])),
        )
        summary = asyncio.run(evaluate(cfg, run_dir, resume=resume, progress=progress))
    summary["run_dir"] = str(run_dir)
    return summary


@fails_cleanly
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    html: Annotated[bool, typer.Option(help="Also write RUN_DIR/report.html (SR@k plot and tables).")] = True,
    as_json: JsonOption = False,
) -> None:
    """SR@k and step tables of a finished or partial run, and its HTML report."""
    from implement.eval.html import write_html_report
    from implement.eval.rundir import RunDir
    from implement.eval.runner import run_summary

    summary = run_summary(RunDir(run_dir))
    if html:
        summary["html_report"] = str(
            write_html_report(summary, run_dir / "report.html", title=f"Run {run_dir}")
        )
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
        if html:
            Console().print(f"HTML report: {summary['html_report']}")
