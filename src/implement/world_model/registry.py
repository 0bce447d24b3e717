"""World models by spec: `symbolic` (the packaged default), `symbolic:FILE.json`, or any LLM spec."""

from __future__ import annotations

from pathlib import Path

from implement.config import Config
from implement.world_model.base import WorldModel


def make_world_model(spec: str, config: Config) -> WorldModel:
    """`symbolic` / `symbolic:PATH`: the learned symbolic model; anything else: an LLM spec
    (speaking `config.world_model.dialect`, answering in `config.world_model.format`)."""
    if spec == "symbolic" or spec.startswith("symbolic:"):
        from implement.world_model.symbolic import SymbolicWorldModel

        path = spec.partition(":")[2]
        return SymbolicWorldModel.load(Path(path)) if path else SymbolicWorldModel.default()
    from implement.llm import make_chat_model
    from implement.world_model.llm import LLMWorldModel

    return LLMWorldModel(
        make_chat_model(spec, config.llm),
        temperature=config.world_model.temperature,
        top_p=config.world_model.top_p,
        greedy_certain=config.world_model.greedy_certain,
        max_tokens=config.world_model.max_tokens,
        max_object_lists=config.world_model.max_object_lists,
        max_failed_actions=config.world_model.max_failed_actions,
        dialect=config.world_model.dialect,
        format=config.world_model.format,
    )
