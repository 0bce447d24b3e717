"""`implement data install` and `implement data list`: ALFWorld's game files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from implement.cli.common import JsonOption, console, fails_cleanly, print_json


@fails_cleanly
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

    with console.status("installing ALFWorld games"):
        counts = install([s.strip() for s in splits.split(",") if s.strip()], source, force=force)
    for split, count in counts.items():
        console.print(f"{split}: {count} games in {data_root()}")


@fails_cleanly
def data_list(
    split: Annotated[str, typer.Option(help="Split to list.")] = "valid_seen",
    as_json: JsonOption = False,
) -> None:
    """Games per task type in a split."""
    from implement.envs.games import find_games, games_by_task_type

    games = find_games(split)
    counts = games_by_task_type(games)
    if as_json:
        print_json({"split": split, "games": len(games), "task_types": counts})
        return
    table = Table(title=f"{split}: {len(games)} games")
    table.add_column("task type")
    table.add_column("games", justify="right")
    for task_type, count in counts.items():
        table.add_row(task_type, str(count))
    Console().print(table)
