"""Servers: `serve` (the agent API), `serve-wm` (the trained world model), `dashboard` (runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from implement.cli.common import (
    ConfigOption,
    ImaginationOption,
    MetaiclOption,
    PolicyOption,
    ProfileOption,
    SummarizerOption,
    WorldModelOption,
    console,
    fails_cleanly,
)
from implement.config import APIConfig
from implement.errors import ConfigError, ImplementError


@fails_cleanly
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
    from implement.llm.hf import TransformersChatModel
    from implement.serve.openai_app import run_openai_server

    with console.status(f"loading {model}"):
        chat_model = TransformersChatModel(model)
    console.print(
        f"serving {model} as {served_name}: --world-model openai:{served_name}@http://{host}:{port}/v1"
    )
    run_openai_server(chat_model, host=host, port=port, served_name=served_name)


@fails_cleanly
def serve_cmd(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on (loopback by default).", show_default=APIConfig.host),
    ] = None,
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
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the agent over HTTP (/generate_policy, /perception, /predict, /health; docs at /docs)."""
    import asyncio

    import uvicorn

    from implement.config import load_config
    from implement.llm.probe import models_made, probe_models
    from implement.serve.app import create_app

    flags: dict[str, tuple[str, Any]] = {
        "--host": ("api.host", host), "--port": ("api.port", port), "--token": ("api.token", token),
        "--agent": ("evaluation.agent", agent), "--policy": ("policy.model", policy),
        "--summarizer": ("policy.summarizer", summarizer),
        "--imagination": ("policy.imagination", imagination),
        "--metaicl": ("policy.metaicl", metaicl), "--world-model": ("world_model.model", world_model),
        "--profile": ("profile", profile),
    }  # fmt: skip
    cfg = load_config(config, flags=flags)
    with models_made() as models:
        api = create_app(cfg, runs=runs or [])
    asyncio.run(probe_models(models))  # a model that cannot answer: one line, before serving anything
    secured = "token required" if cfg.api.token else "no token"
    console.print(f"IMPLEMENT API on http://{cfg.api.host}:{cfg.api.port} ({secured}); docs at /docs")
    uvicorn.run(api, host=cfg.api.host, port=cfg.api.port, log_level="warning")


@fails_cleanly
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
        raise ImplementError(f"not a directory: {', '.join(missing)}")
    api = FastAPI(title="IMPLEMENT dashboard")
    api.include_router(dashboard_router(run_dirs))
    console.print(f"dashboard on http://{host}:{port}/")
    uvicorn.run(api, host=host, port=port, log_level="warning")
