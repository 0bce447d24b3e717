"""World-model fine-tuning: LoRA SFT (TRL) on curated samples, from plain HF base checkpoints.

Needs the `train` extra (torch, transformers, peft, trl, datasets); heavy imports happen
inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from implement.train.base_models import resolve_base_model
from implement.train.samples import load_samples
from implement.train.sft import TrainResult, prepare_training, train_world_model

__all__ = [
    "TrainResult",
    "load_samples",
    "prepare_training",
    "resolve_base_model",
    "train_world_model",
]
