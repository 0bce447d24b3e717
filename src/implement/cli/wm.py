"""`implement wm fit` and `implement wm eval`: fit the symbolic world model, score any."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from implement.cli.common import ConfigOption, JsonOption, console, fails_cleanly, print_report, progress_bar


@fails_cleanly
def wm_fit(
    split: Annotated[str, typer.Option(help="Split whose initial placements are counted.")] = "train",
    out: Annotated[Path, typer.Option(help="Where to write the fitted model (JSON).")] = Path(
        "symbolic_wm.json"
    ),
) -> None:
    """Fit the symbolic world model's object-placement distributions on a split's PDDL problems."""
    from implement.envs.games import find_games
    from implement.world_model.symbolic import SymbolicWorldModel

    games = find_games(split)
    with progress_bar("fitting", len(games)) as bar:
        model = SymbolicWorldModel.fit(games, progress=bar.advance)
    model.save(out)
    console.print(f"fitted on {len(games)} {split} games: {out}")


@fails_cleanly
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
    answer_format: Annotated[
        str | None,
        typer.Option("--format", help="LLM answers: state or diff (world_model.format; default: config)."),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Score a world model against real games: exact match, failures, likelihood, search rank."""
    from implement.config import load_config
    from implement.envs.games import find_games
    from implement.world_model.evaluate import evaluate_world_model
    from implement.world_model.registry import make_world_model

    flags = {
        "--max-tokens": ("world_model.max_tokens", max_tokens),
        "--samples": ("world_model.mc_samples", samples),
        "--format": ("world_model.format", answer_format),
    }
    cfg = load_config(config, flags=flags)
    games = find_games(split)[:limit]
    model = make_world_model(world_model, cfg)
    with progress_bar("wm eval", len(games)) as bar:
        report = asyncio.run(
            evaluate_world_model(
                model,
                games,
                samples=cfg.world_model.mc_samples,
                seed=seed,
                metaicl=metaicl,
                search=search,
                on_game=lambda game: bar.advance(),
            )
        )
    print_report(report, f"world model {world_model} on {split}", as_json)
