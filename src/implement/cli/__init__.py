"""The `implement` command: one subcommand per stage, one module per group of stages."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from implement.cli import config_cmd, data, evaluate, llm, pipeline, serving, wm

app = typer.Typer(
    help="IMPLEMENT: model-based online policy iteration for embodied LLM agents.", no_args_is_help=True
)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


data_app = typer.Typer(help="Install and list ALFWorld game files.", no_args_is_help=True)
data_app.command("install")(data.data_install)
data_app.command("list")(data.data_list)
app.add_typer(data_app, name="data")

llm_app = typer.Typer(help="Language-model endpoints.", no_args_is_help=True)
llm_app.command("check")(llm.llm_check)
app.add_typer(llm_app, name="llm")

wm_app = typer.Typer(help="World models: fit the symbolic one, evaluate any.", no_args_is_help=True)
wm_app.command("fit")(wm.wm_fit)
wm_app.command("eval")(wm.wm_eval)
app.add_typer(wm_app, name="wm")

app.command("config")(config_cmd.show_config)
app.command("evaluate")(evaluate.evaluate_cmd)
app.command("collect")(pipeline.collect_cmd)
app.command("prepare")(pipeline.prepare_cmd)
app.command("curate")(pipeline.curate_cmd)
app.command("extract-conditions")(pipeline.extract_conditions_cmd)
app.command("train")(pipeline.train_cmd)
app.command("serve-wm")(serving.serve_wm_cmd)
app.command("serve")(serving.serve_cmd)
app.command("dashboard")(serving.dashboard_cmd)
app.command("report")(evaluate.report_cmd)

__all__ = ["app"]
