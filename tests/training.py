"""Tiny curated world-model samples for the training tests, and the settings that keep them fast."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from implement.config import TrainingConfig
from implement.llm.base import Message
from implement.prompts.world_model import answer_message, perception_messages, prediction_messages
from implement.state import ReceptacleState, SymbolicState
from implement.world_model.perception import update_state

# The real system text is ~370 tokens; a short one keeps CPU steps short (the format is the same).
SHORT_SYSTEM = "You are the world model of an ALFWorld agent. Answer with the new state as JSON."
MAX_LENGTH = 320
FAST_CONFIG = TrainingConfig(
    base_model="smollm2-135m", learning_rate=1e-3, batch_size=2, gradient_accumulation=1,
    validation_fraction=0.1, max_grad_norm=1.0, max_length=MAX_LENGTH, device="cpu",
)  # fmt: skip

RECEPTACLES = ["countertop 1", "shelf 1", "fridge 1", "cabinet 1"]
OBJECTS = ["apple 1", "mug 1", "egg 1", "bread 1"]


def _start(i: int) -> SymbolicState:
    return SymbolicState(
        agent_location="countertop 1",
        inventory="nothing",
        world_state={
            "countertop 1": ReceptacleState(True, "N/A", (OBJECTS[i % 4],)),
            "shelf 1": ReceptacleState(),
            "fridge 1": ReceptacleState(open=False),
        },
    )


def curated_sample(i: int) -> dict[str, Any]:
    """One curated line: perception for even `i`, prediction for odd `i`."""
    state = _start(i)
    seen = OBJECTS[(i + 1) % 4]
    action, observation = "go to shelf 1", f"You arrive at shelf 1. On the shelf 1, you see a {seen}."
    messages: list[Message]
    if i % 2 == 0:
        messages = perception_messages(state, action, observation, succeeded=True)
        mode = "perception"
    else:
        messages = prediction_messages(state, action)
        mode = "prediction"
    messages[0] = {"role": "system", "content": SHORT_SYSTEM}
    answer = answer_message(update_state(state, action, observation))
    return {"mode": mode, "game": f"game-{i}", "messages": [*messages, answer]}


def write_samples(data_dir: Path, n: int, *, extra_lines: tuple[str, ...] = ()) -> Path:
    """`n` curated samples split by mode into the two curated files (plus raw `extra_lines`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"perception": [], "prediction": []}
    for i in range(n):
        sample = curated_sample(i)
        lines[sample["mode"]].append(json.dumps(sample))
    lines["prediction"].extend(extra_lines)
    for mode, rows in lines.items():
        (data_dir / f"curated_samples_{mode}.jsonl").write_text("".join(r + "\n" for r in rows))
    return data_dir


STEPS = 6
SAVE_STEPS = 3  # checkpoints at steps 3 and 6, to resume from
FAST_RUN = replace(FAST_CONFIG, max_steps=STEPS, logging_steps=1, save_steps=SAVE_STEPS)
MALFORMED = ("not json", json.dumps({"mode": "prediction", "messages": [{"role": "user", "content": "hi"}]}))


def base_model_dir() -> Path:
    """The embedded SmolLM2-135M as a plain checkpoint (converted once into the implement cache)."""
    from implement.llm.base import LLMError
    from implement.train.base_models import resolve_base_model

    try:
        return Path(resolve_base_model("smollm2-135m"))
    except LLMError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def trained_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter trained for a few CPU steps on 12 samples (+2 malformed lines).

    Test modules import this fixture, so pytest makes one per module: the first trains, the
    others find the finished run in the session's base temp dir.
    """
    from implement.train.sft import TRAIN_INFO, train_world_model

    root = tmp_path_factory.getbasetemp() / "trained-world-model"
    out = root / "adapter"
    if not (out / TRAIN_INFO).is_file():
        base_model_dir()
        data = write_samples(root / "data", 12, extra_lines=MALFORMED)
        train_world_model(data, out, FAST_RUN)
    return out
