"""The `implement` command: one subcommand per stage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from implement.errors import ConfigError, ImplementError

app = typer.Typer(
    help="IMPLEMENT: model-based online policy iteration for embodied LLM agents.", no_args_is_help=True
)
data_app = typer.Typer(help="Install and list ALFWorld game files.", no_args_is_help=True)
app.add_typer(data_app, name="data")
llm_app = typer.Typer(help="Language-model endpoints.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")
wm_app = typer.Typer(help="World models: fit the symbolic one, evaluate any.", no_args_is_help=True)
app.add_typer(wm_app, name="wm")
console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file (see `implement config`).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
# The agent's parts, shared by `evaluate` and `serve`.
PolicyOption = Annotated[
    str | None, typer.Option(help="implement's policy: planner (no LLM) or an LLM spec.")
]
WorldModelOption = Annotated[
    str | None, typer.Option(help="implement's world model: symbolic, symbolic:FILE, or an LLM spec.")
]
SummarizerOption = Annotated[str | None, typer.Option(help="Belief summary: exact, or an LLM spec.")]
ImaginationOption = Annotated[
    bool | None, typer.Option(help="Imagine proposals before acting (ablation: --no-imagination).")
]
MetaiclOption = Annotated[
    bool | None, typer.Option(help="MetaICL conditions across trials (ablation: --no-metaicl).")
]


def _fail(error: Exception) -> typer.Exit:
    # Escaped: messages hold brackets ("[evaluation]") that are not markup; one line, unwrapped.
    console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
    return typer.Exit(1)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _print_report(report: dict[str, Any], title: str, as_json: bool) -> None:
    """A flat report as one JSON object, or as a two-column table."""
    if as_json:
        _print_json(report)
        return
    table = Table(title=title, show_header=False)
    for key, value in report.items():
        table.add_row(key, escape(str(value)))
    Console().print(table)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@data_app.command("install")
def data_install(
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Folder with <split>.tar.xz archives; omit to run ALFWorld's download."),
    ] = None,
    splits: Annotated[
        str, typer.Option(help="Comma-separated splits to install.")
    ] = "valid_seen,valid_train,train",
    force: Annotated[bool, typer.Option(help="Unpack again even when a split is complete.")] = False,
) -> None:
    """Unpack ALFWorld's game files into $ALFWORLD_DATA (default ~/.cache/alfworld) and verify counts."""
    from implement.envs.games import data_root, install

    try:
        with console.status("installing ALFWorld games"):
            counts = install([s.strip() for s in splits.split(",") if s.strip()], source, force=force)
    except ImplementError as exc:
        raise _fail(exc) from exc
    for split, count in counts.items():
        console.print(f"{split}: {count} games in {data_root()}")


@data_app.command("list")
def data_list(
    split: Annotated[str, typer.Option(help="Split to list.")] = "valid_seen",
    as_json: JsonOption = False,
) -> None:
    """Games per task type in a split."""
    from implement.envs.games import find_games, games_by_task_type

    try:
        games = find_games(split)
    except ImplementError as exc:
        raise _fail(exc) from exc
    counts = games_by_task_type(games)
    if as_json:
        _print_json({"split": split, "games": len(games), "task_types": counts})
        return
    table = Table(title=f"{split}: {len(games)} games")
    table.add_column("task type")
    table.add_column("games", justify="right")
    for task_type, count in counts.items():
        table.add_row(task_type, str(count))
    Console().print(table)


@app.command("config")
def show_config(config: ConfigOption = None) -> None:
    """Print the effective configuration (defaults < file < environment), secrets masked."""
    from implement.config import describe, load_config

    try:
        cfg = load_config(config)
    except ImplementError as exc:
        raise _fail(exc) from exc
    table = Table(title="configuration")
    for column in ("setting", "value", "help"):
        table.add_column(column)
    for name, value, help_text in describe(cfg):
        table.add_row(name, repr(value), help_text)
    Console().print(table)


@llm_app.command("check")
def llm_check(
    spec: Annotated[
        str | None, typer.Argument(help="Model spec, e.g. openai:gpt-4.1-mini, local:smollm2-135m.")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="SQLite response cache file.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use a response cache.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List what an endpoint serves, send one short request, and test n and logprobs support."""
    from implement.config import load_config
    from implement.llm import make_chat_model
    from implement.llm.check import check_model

    try:
        cfg = load_config(config, flags={"llm": {"cache": str(cache) if cache else None}})
        if no_cache:
            cfg.llm.cache = None
        spec = spec or cfg.llm.model
        if not spec:
            raise ImplementError("no model: give a SPEC or set llm.model (e.g. IMPLEMENT_LLM__MODEL)")
        report = asyncio.run(check_model(make_chat_model(spec, cfg.llm)))
    except ImplementError as exc:
        raise _fail(exc) from exc
    _print_report(report, f"llm check {spec}", as_json)


@wm_app.command("fit")
def wm_fit(
    split: Annotated[str, typer.Option(help="Split whose initial placements are counted.")] = "train",
    out: Annotated[Path, typer.Option(help="Where to write the fitted model (JSON).")] = Path(
        "symbolic_wm.json"
    ),
) -> None:
    """Fit the symbolic world model's object-placement distributions on a split's PDDL problems."""
    from implement.envs.games import find_games
    from implement.world_model.symbolic import SymbolicWorldModel

    try:
        games = find_games(split)
        with Progress(TextColumn("fitting"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("fit", total=len(games))
            model = SymbolicWorldModel.fit(games, progress=lambda: bar.advance(task))
        model.save(out)
    except ImplementError as exc:
        raise _fail(exc) from exc
    console.print(f"fitted on {len(games)} {split} games: {out}")


@wm_app.command("eval")
def wm_eval(
    split: Annotated[
        str, typer.Option(help="Split whose games give the held-out transitions.")
    ] = "valid_seen",
    world_model: Annotated[str, typer.Option(help="symbolic, symbolic:FILE, or an LLM spec.")] = "symbolic",
    limit: Annotated[int | None, typer.Option(help="Evaluate on the first N games only.")] = None,
    samples: Annotated[
        int | None,
        typer.Option(help="Monte Carlo samples per information-gathering action (default: config)."),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Completion tokens per LLM world-model answer (default: config).")
    ] = None,
    search: Annotated[
        bool, typer.Option(help="Score the search rank (one prediction per receptacle of each game).")
    ] = True,
    metaicl: Annotated[
        bool, typer.Option(help="Also rank with MetaICL object lists from a previous visit.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the detours woven into the walkthroughs.")] = 0,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Score a world model against real games: exact match, failures, likelihood, search rank."""
    from implement.config import load_config
    from implement.envs.games import find_games
    from implement.world_model.evaluate import evaluate_world_model
    from implement.world_model.registry import make_world_model

    try:
        cfg = load_config(config, flags={"world_model": {"max_tokens": max_tokens}})
        games = find_games(split)[:limit]
        model = make_world_model(world_model, cfg)
        with Progress(TextColumn("wm eval"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("games", total=len(games))
            report = asyncio.run(
                evaluate_world_model(
                    model,
                    games,
                    samples=cfg.world_model.mc_samples if samples is None else samples,
                    seed=seed,
                    metaicl=metaicl,
                    search=search,
                    on_game=lambda g: bar.advance(task),
                )
            )
    except ImplementError as exc:
        raise _fail(exc) from exc
    _print_report(report, f"world model {world_model} on {split}", as_json)


@app.command("evaluate")
def evaluate_cmd(
    agent: Annotated[
        str | None,
        typer.Option(help="Agent: implement (default), vanilla, react, reflexion, expert, random."),
    ] = None,
    policy: PolicyOption = None,
    world_model: WorldModelOption = None,
    summarizer: SummarizerOption = None,
    imagination: ImaginationOption = None,
    metaicl: MetaiclOption = None,
    rollout_depth: Annotated[
        int | None, typer.Option(help="Multi-step imagination (beyond the paper): steps rolled further.")
    ] = None,
    replay_solved: Annotated[
        bool | None, typer.Option(help="Play solved games again in later trials (adaptation per trial).")
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="Run the agent on an `implement serve` server at this URL.")
    ] = None,
    conditions: Annotated[
        Path | None,
        typer.Option(
            help="MetaICL conditions directory (from extract-conditions) to start each game's memory."
        ),
    ] = None,
    split: Annotated[str | None, typer.Option(help="ALFWorld split (default valid_seen).")] = None,
    games: Annotated[
        int | None, typer.Option(help="Seeded sample of this many games (default: all).")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Trials per game (paper: 12).")] = None,
    parallel: Annotated[int | None, typer.Option(help="Environments played at once (paper: 5).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Steps per episode (paper: 30).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of sampling and random choices.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<agent>-<split>-<time>).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out, skipping finished episodes.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Play games × trials with an agent into a resumable run directory and report SR@k."""
    from implement.config import load_config
    from implement.eval.report import summary_tables
    from implement.eval.runner import Progress as RunProgress
    from implement.eval.runner import evaluate

    flags: dict[str, dict[str, Any]] = {
        "evaluation": {"agent": agent, "games": games, "trials": trials, "parallel": parallel, "seed": seed,
                       "replay_solved": replay_solved, "conditions": str(conditions) if conditions else None,
                       "api_url": api_url},
        "environment": {"split": split, "max_steps": max_steps},
        "policy": {"model": policy, "summarizer": summarizer, "imagination": imagination, "metaicl": metaicl,
                   "rollout_depth": rollout_depth},
        "world_model": {"model": world_model},
    }  # fmt: skip
    try:
        cfg = load_config(config, flags=flags)
        if out is None:
            if resume:
                raise ImplementError("--resume needs --out, the run directory to continue")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{cfg.evaluation.agent}-{cfg.environment.split}-{stamp}"
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("won {task.fields[won]}"),
            TimeElapsedColumn(),
            console=console,
        )
        with bar:
            current: dict[str, Any] = {}

            def on_trial(trial: int, pending: int) -> None:
                current["task"] = bar.add_task(f"trial {trial}/{cfg.evaluation.trials}", total=pending, won=0)

            def on_episode(record: dict[str, Any]) -> None:
                task = bar.tasks[current["task"]]
                bar.update(current["task"], advance=1, won=task.fields["won"] + int(record["won"]))

            summary = asyncio.run(
                evaluate(cfg, out, resume=resume, progress=RunProgress(on_trial, on_episode))
            )
    except ImplementError as exc:
        raise _fail(exc) from exc
    summary["run_dir"] = str(out)
    if as_json:
        _print_json(summary)
    else:
        for table in summary_tables(summary):
            Console().print(table)
        console.print(f"run directory: {out}")


def _data_progress(label: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)  # fmt: skip


def _report_skips(skipped: list[str]) -> None:
    """Say how many inputs were left out, and the first few reasons."""
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} malformed input(s)[/yellow]; first ones:")
        for reason in skipped[:5]:
            console.print(f"  {escape(reason)}", soft_wrap=True)


@app.command("collect")
def collect_cmd(
    out: Annotated[Path, typer.Option(help="Output directory (trajectories.jsonl, collect.json).")],
    split: Annotated[str, typer.Option(help="ALFWorld split to play.")] = "train",
    num_tasks: Annotated[
        int | None, typer.Option(help="Seeded sample of this many games (default: the whole split).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Environments played in parallel.")] = 5,
    max_steps: Annotated[int, typer.Option(help="Steps per episode.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the task sample and the behaviour policy.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the collection in --out.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Play games with the behaviour policy (expert 0.2, admissible 0.4, seen 0.4) and record transitions."""
    from implement.data.collect import CollectSettings, collect, open_collection

    settings = CollectSettings(
        split=split, num_tasks=num_tasks, batch_size=batch_size, max_steps=max_steps, seed=seed
    )
    try:
        games = open_collection(settings, out, resume=resume)
        with _data_progress("collect") as bar:
            task = bar.add_task("games", total=len(games))
            counts = collect(settings, out, games, on_trajectory=lambda r: bar.advance(task))
    except ImplementError as exc:
        raise _fail(exc) from exc
    _print_report({**counts, "out": str(out)}, f"collected from {split}", as_json)


@app.command("prepare")
def prepare_cmd(
    data_dirs: Annotated[
        list[Path], typer.Option(help="Directories written by `implement collect` (repeat).")
    ],
    out: Annotated[Path, typer.Option(help="Output directory (samples and conditions/).")],
    seed: Annotated[int, typer.Option(help="Seed of the condition subsets.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Training samples with random subsets of their task's MetaICL conditions."""
    from implement.data.prepare import prepare

    try:
        out.mkdir(parents=True, exist_ok=True)
        report = prepare(data_dirs, out, seed=seed)
    except ImplementError as exc:
        raise _fail(exc) from exc
    _report_skips(report.skipped)
    _print_report({**report.to_dict(), "out": str(out)}, "prepared samples", as_json)


@app.command("curate")
def curate_cmd(
    input_files: Annotated[
        list[Path], typer.Option("--input", help="training_samples_metaicl.jsonl from prepare (repeat).")
    ],
    out: Annotated[Path, typer.Option(help="Output directory (curated_samples_*.jsonl).")],
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder holding conditions/ (default: each input's folder).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Chat conversations for [PER] and [PRE] training, with the prompts used at inference."""
    from implement.data.curate import curate

    try:
        report = curate(input_files, out, data_dir=data_dir)
    except ImplementError as exc:
        raise _fail(exc) from exc
    _report_skips(report.skipped)
    _print_report({**report.to_dict(), "out": str(out)}, "curated samples", as_json)


@app.command("extract-conditions")
def extract_conditions_cmd(
    eval_dirs: Annotated[list[Path], typer.Option("--eval-dir", help="Evaluation run directory (repeat).")],
    out: Annotated[Path, typer.Option(help="Conditions directory to write.")],
    as_json: JsonOption = False,
) -> None:
    """MetaICL conditions (object_lists.json, failed_actions.json) from evaluation runs."""
    from implement.metaicl import extract_conditions, write_conditions

    skipped: list[str] = []
    try:
        conditions = extract_conditions(eval_dirs, skipped=skipped)
        write_conditions(out, conditions)
    except ImplementError as exc:
        raise _fail(exc) from exc
    _report_skips(skipped)
    report = {
        "games": len(conditions),
        "object_lists": sum(len(c.object_lists) for c in conditions.values()),
        "failed_actions": sum(len(c.failed_actions) for c in conditions.values()),
        "out": str(out),
    }
    _print_report(report, "extracted conditions", as_json)


@app.command("train")
def train_cmd(
    data_dir: Annotated[
        Path, typer.Option(help="Folder with curated_samples_{perception,prediction}.jsonl.")
    ],
    output_dir: Annotated[Path, typer.Option(help="Where the LoRA adapter and implement_train.json go.")],
    base_model: Annotated[
        str | None,
        typer.Option(help="smollm2-135m (embedded, CPU), a checkpoint dir, or a hub id (default: config)."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (paper: 3).")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate (paper: 2e-5).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Per-device batch size (paper: 4).")] = None,
    gradient_accumulation: Annotated[
        int | None, typer.Option(help="Gradient accumulation (paper: 4).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    max_length: Annotated[int, typer.Option(help="Tokens per sample (prompt + answer).")] = 4096,
    seed: Annotated[int, typer.Option(help="Seed of the split, shuffling and LoRA init.")] = 0,
    save_steps: Annotated[int, typer.Option(help="Keep a checkpoint every N steps (the last two).")] = 500,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --output-dir.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Fine-tune the world model with LoRA on both modes (TRL SFTTrainer, loss on the answers only)."""
    from implement.config import load_config

    flags = {
        "training": {
            "base_model": base_model,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "gradient_accumulation": gradient_accumulation,
        }
    }
    try:
        cfg = load_config(config, flags=flags)
        try:
            from implement.train.sft import RunOptions, train_world_model
        except ImportError as exc:
            raise ImplementError(
                f"training needs the train extra ({exc}); see README, `make install-train`"
            ) from exc
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is the report
            options = RunOptions(
                max_steps=max_steps, max_length=max_length, seed=seed, save_steps=save_steps,
                logging_steps=1 if max_steps is not None and max_steps <= 50 else 10,
            )  # fmt: skip
            result = train_world_model(data_dir, output_dir, cfg.training, options, resume=resume)
    except ImplementError as exc:
        raise _fail(exc) from exc
    report = {
        "output_dir": str(result.output_dir), "base_model": result.base_model, "steps": result.steps,
        "train_samples": result.train_samples, "eval_samples": result.eval_samples,
        "skipped": result.skipped, "first_loss": result.first_loss, "last_loss": result.last_loss,
        "eval_loss_before": result.eval_loss_before, "eval_loss": result.eval_loss,
        "seconds": round(result.seconds, 1), "world_model_spec": f"hf:{result.output_dir}",
    }  # fmt: skip
    _print_report(report, "world-model training", as_json)


@app.command("serve-wm")
def serve_wm_cmd(
    model: Annotated[Path, typer.Option(help="Checkpoint or LoRA adapter dir (from `implement train`).")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (the seed's: 8002).")] = 8002,
    tensor_parallel_size: Annotated[int, typer.Option(help="GPUs per model (vLLM; paper: 4).")] = 1,
    served_name: Annotated[str, typer.Option(help="Model name clients ask for.")] = "wm_metaicl",
    backend: Annotated[
        str, typer.Option(help="vllm, transformers (in process, CPU), or auto: vllm when installed.")
    ] = "auto",
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the vLLM command, do not run it.")
    ] = False,
) -> None:
    """Serve the trained world model over the OpenAI API (use it as openai:wm_metaicl@http://HOST:PORT/v1)."""
    import os
    import shlex

    from implement.serve.vllm import vllm_available, vllm_command

    try:
        if backend not in ("auto", "vllm", "transformers"):
            raise ConfigError(f"--backend must be auto, vllm or transformers, got {backend!r}")
        use_vllm = backend == "vllm" or (backend == "auto" and vllm_available()) or print_only
        if use_vllm:
            command = vllm_command(
                model, host=host, port=port, tensor_parallel=tensor_parallel_size, served_name=served_name
            )
            if print_only:
                sys.stdout.write(shlex.join(command) + "\n")
                return
            if not vllm_available():
                raise ImplementError(
                    "vLLM is not installed (pip install vllm, on a GPU machine); or --backend transformers"
                )
            os.execv(command[0], command)
        import uvicorn

        from implement.llm.fake_server import FakeOpenAIServer
        from implement.llm.hf import TransformersChatModel

        with console.status(f"loading {model}"):
            server = FakeOpenAIServer(chat_model=TransformersChatModel(model), model=served_name)
    except ImplementError as exc:
        raise _fail(exc) from exc
    console.print(
        f"serving {model} as {served_name}: --world-model openai:{served_name}@http://{host}:{port}/v1"
    )
    server.server(uvicorn.Config(server.app, host=host, port=port, lifespan="on")).run()


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: api.port, the seed's 30972).")] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token every endpoint but /health needs (or IMPLEMENT_API__TOKEN)."),
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Agent served: implement (default) or vanilla.")] = None,
    policy: PolicyOption = None,
    world_model: WorldModelOption = None,
    summarizer: SummarizerOption = None,
    imagination: ImaginationOption = None,
    metaicl: MetaiclOption = None,
    runs: Annotated[
        list[Path] | None, typer.Option(help="Run directories (or folders of them) the dashboard at / shows.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the agent over HTTP (/generate_policy, /perception, /predict, /health; docs at /docs)."""
    import uvicorn

    from implement.config import load_config
    from implement.serve.app import create_app

    flags: dict[str, dict[str, Any]] = {
        "api": {"port": port, "token": token},
        "evaluation": {"agent": agent},
        "policy": {"model": policy, "summarizer": summarizer, "imagination": imagination, "metaicl": metaicl},
        "world_model": {"model": world_model},
    }
    try:
        cfg = load_config(config, flags=flags)
        api = create_app(cfg, runs=runs or [])
    except ImplementError as exc:
        raise _fail(exc) from exc
    secured = "token required" if cfg.api.token else "no token"
    console.print(f"IMPLEMENT API on http://{host}:{cfg.api.port} ({secured}); docs at /docs")
    uvicorn.run(api, host=host, port=cfg.api.port, log_level="warning")


@app.command("dashboard")
def dashboard_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories, or folders holding them.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
) -> None:
    """Browse runs: SR@k, cost, and per step what the agent imagined beside what happened."""
    import uvicorn
    from fastapi import FastAPI

    from implement.serve.dashboard import dashboard_router

    missing = [str(p) for p in run_dirs if not p.is_dir()]
    if missing:
        raise _fail(ImplementError(f"not a directory: {', '.join(missing)}"))
    api = FastAPI(title="IMPLEMENT dashboard")
    api.include_router(dashboard_router(run_dirs))
    console.print(f"dashboard on http://{host}:{port}/")
    uvicorn.run(api, host=host, port=port, log_level="warning")


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    html: Annotated[bool, typer.Option(help="Also write RUN_DIR/report.html (SR@k plot and tables).")] = True,
    as_json: JsonOption = False,
) -> None:
    """SR@k and step tables of a finished or partial run, and its HTML report."""
    from implement.eval.html import write_html_report
    from implement.eval.report import summary_tables
    from implement.eval.rundir import RunDir
    from implement.eval.runner import run_summary

    try:
        summary = run_summary(RunDir(run_dir))
    except ImplementError as exc:
        raise _fail(exc) from exc
    if html:
        summary["html_report"] = str(
            write_html_report(summary, run_dir / "report.html", title=f"Run {run_dir}")
        )
    if as_json:
        _print_json(summary)
    else:
        for table in summary_tables(summary):
            Console().print(table)
        if html:
            Console().print(f"HTML report: {summary['html_report']}")


if __name__ == "__main__":  # pragma: no cover
    app()
