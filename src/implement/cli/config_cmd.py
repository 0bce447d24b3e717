"""`implement config`: the effective configuration."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from implement.cli.common import ConfigOption, fails_cleanly


@fails_cleanly
def show_config(config: ConfigOption = None) -> None:
    """Print the effective configuration (defaults < file < environment), secrets masked."""
    from implement.config import describe, load_config

    table = Table(title="configuration")
    for column in ("setting", "value", "allowed", "help"):
        table.add_column(column)
    for name, value, help_text, allowed in describe(load_config(config)):
        table.add_row(name, repr(value), allowed, help_text)
    Console().print(table)
