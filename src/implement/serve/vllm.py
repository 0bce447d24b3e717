"""`implement serve-wm`: the trained world model behind an OpenAI-compatible endpoint.

With vLLM installed (GPU machines), the paper's server: `python -m vllm.entrypoints.openai.api_server`
with the model served as `wm_metaicl`, tensor parallelism, prefix caching, 85 % of GPU
memory and 8192 batched tokens. A LoRA adapter directory (what `implement train` writes)
is served on top of its base model (`--enable-lora --lora-modules wm_metaicl=DIR`); a
merged checkpoint is served as the model itself. Without vLLM (a CPU), the checkpoint is
loaded in process by transformers and served by the project's own small server, so the
same `openai:wm_metaicl@http://HOST:PORT/v1` spec reaches it either way.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from implement.errors import ConfigError

SERVED_NAME = "wm_metaicl"
WM_PORT = 8002  # the seed's


def is_adapter(path: Path) -> bool:
    return (path / "adapter_config.json").is_file()


def adapter_base(path: Path) -> str:
    """The base model a PEFT adapter directory was trained on."""
    try:
        base = json.loads((path / "adapter_config.json").read_text())["base_model_name_or_path"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}/adapter_config.json names no base model ({exc})") from exc
    return str(base)


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_command(
    model: Path,
    *,
    host: str = "127.0.0.1",
    port: int = WM_PORT,
    tensor_parallel: int = 1,
    served_name: str = SERVED_NAME,
    gpu_memory_utilization: float = 0.85,
    max_batched_tokens: int = 8192,
    lora_rank: int = 16,
) -> list[str]:
    """The vLLM OpenAI server command for a checkpoint or a LoRA adapter directory."""
    if not model.is_dir():
        raise ConfigError(f"{model} is not a checkpoint directory (one `implement train` wrote)")
    if tensor_parallel < 1:
        raise ConfigError(f"tensor parallel size must be >= 1, got {tensor_parallel}")
    if is_adapter(model):
        weights = ["--model", adapter_base(model), "--enable-lora", "--max-lora-rank", str(lora_rank),
                   "--lora-modules", f"{served_name}={model}"]  # fmt: skip
    else:
        weights = ["--model", str(model), "--served-model-name", served_name]
    return [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", *weights,
        "--tensor-parallel-size", str(tensor_parallel), "--trust-remote-code",
        "--host", host, "--port", str(port),
        "--gpu-memory-utilization", str(gpu_memory_utilization),
        "--enable-prefix-caching", "--max-num-batched-tokens", str(max_batched_tokens),
    ]  # fmt: skip
