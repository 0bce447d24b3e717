"""`implement llm check`: what a language-model endpoint serves and supports."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from implement.cli.common import ConfigOption, JsonOption, fails_cleanly, print_report
from implement.errors import ImplementError


@fails_cleanly
def llm_check(
    spec: Annotated[
        str | None, typer.Argument(help="Model spec, e.g. openai:gpt-4.1-mini, local:smollm2-135m.")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="SQLite response cache file.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use a response cache.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List what an endpoint serves, send one short request, and test n, logprobs and JSON-schema support."""
    from implement.config import load_config
    from implement.llm import make_chat_model
    from implement.llm.check import check_model

    cfg = load_config(config, flags={"--cache": ("llm.cache", str(cache) if cache else None)})
    if no_cache:
        cfg.llm.cache = None
    spec = spec or cfg.llm.model
    if not spec:
        raise ImplementError("no model: give a SPEC or set llm.model (e.g. IMPLEMENT_LLM__MODEL)")
    report = asyncio.run(check_model(make_chat_model(spec, cfg.llm)))
    print_report(report, f"llm check {spec}", as_json)
