"""Shared by the seed's scripts: run one `implement` subcommand with translated flags."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence


def run(argv: Sequence[str], *, alfworld_root: str | None = None) -> None:
    """`implement ARGV...`, with the ALFWorld data root set when the seed's flag gave one."""
    if alfworld_root:
        os.environ["ALFWORLD_DATA"] = alfworld_root
    from implement.cli import app

    sys.exit(app(list(argv), prog_name="implement", standalone_mode=True))


def flags(options: Mapping[str, object]) -> list[str]:
    """`--flag value` pairs of the options that were given (not None)."""
    return [a for flag, value in options.items() if value is not None for a in (flag, str(value))]
