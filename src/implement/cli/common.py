"""What every `implement` command shares: the error wrapper, the progress bar, printing, options."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from implement.errors import ImplementError

console = Console(stderr=True)  # progress, notes and errors; stdout holds the command's result

P = ParamSpec("P")
R = TypeVar("R")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file (see `implement config`).")
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        help="Settings profile under the config file: implement (default) or paper (the paper's algorithm)."
    ),
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


def fails_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """A command whose `ImplementError`s end it with one red `error:` line and exit status 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ImplementError as exc:
            # Escaped: messages hold brackets ("[evaluation]") that are not markup; one line, unwrapped.
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from exc

    return run


class ProgressBar:
    """The one progress display: a bar per stage (a trial, a fit), advanced item by item."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def stage(self, label: str, total: int) -> None:
        """A new bar, the one `advance` moves from now on."""
        self._task = self._progress.add_task(label, total=total, won=0)

    def advance(self, *, won: bool = False) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, advance=1, won=task.fields["won"] + int(won))


@contextmanager
def progress_bar(label: str | None = None, total: int = 0, *, won: bool = False) -> Iterator[ProgressBar]:
    """A live progress display on stderr; with `label`, its first stage; with `won`, a count of wins."""
    columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if won:
        columns.append(TextColumn("won {task.fields[won]}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        bar = ProgressBar(progress)
        if label is not None:
            bar.stage(label, total)
        yield bar


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def print_report(report: dict[str, Any], title: str, as_json: bool) -> None:
    """A flat report as one JSON object, or as a two-column table."""
    if as_json:
        print_json(report)
        return
    table = Table(title=title, show_header=False)
    for key, value in report.items():
        table.add_row(key, escape(str(value)))
    Console().print(table)


def report_skips(skipped: list[str]) -> None:
    """Say how many inputs were left out, and the first few reasons."""
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} malformed input(s)[/yellow]; first ones:")
        for reason in skipped[:5]:
            console.print(f"  {escape(reason)}", soft_wrap=True)
