"""`implement config`: the effective configuration."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from implement.cli.common import ConfigOption, ProfileOption, fails_cleanly

if TYPE_CHECKING:
    from implement.config import Config


def describe(config: Config) -> list[tuple[str, Any, str, str]]:
    """(section.field, value, help, allowed range) rows, secrets masked; the profile first."""
    from implement.config import sections
    from implement.config_fields import allowed
    from implement.profiles import PROFILES

    rows: list[tuple[str, Any, str, str]] = [
        ("profile", config.profile, "named settings under the file (implement.profiles)", ", ".join(PROFILES))
    ]
    for section_name, section in sections(config).items():
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if f.metadata.get("secret") and value:
                value = "***"
            rows.append((f"{section_name}.{f.name}", value, f.metadata.get("help", ""), allowed(f)))
    return rows


@fails_cleanly
def show_config(config: ConfigOption = None, profile: ProfileOption = None) -> None:
    """Print the effective configuration (defaults < profile < file < environment), secrets masked."""
    from implement.config import load_config

    table = Table(title="configuration")
    for column in ("setting", "value", "allowed", "help"):
        table.add_column(column)
    for name, value, help_text, allowed in describe(
        load_config(config, flags={"--profile": ("profile", profile)})
    ):
        table.add_row(name, repr(value), allowed, help_text)
    Console().print(table)
