"""SmolLM2-135M under JSON schemas, for real: it plays real games with no unparseable policy answer,
over llama.cpp's server and in process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp", reason="the `local` extra (llama-cpp-python) is not installed")

from implement.config import Config
from implement.eval.rundir import RunDir
from implement.eval.runner import evaluate
from implement.jsonl import read_jsonl

pytestmark = pytest.mark.slow


def play(config: Config, out: Path) -> list[dict[str, Any]]:
    """Play the run; return every step line that carries a decision."""
    asyncio.run(evaluate(config, out))
    episodes = RunDir(out).episodes()
    assert all(e["error"] is None for e in episodes), [e["error"] for e in episodes]
    return [
        line
        for path in sorted((out / "steps").rglob("*.jsonl"))
        for line in read_jsonl(path)
        if "decision" in line
    ]


def structured_config(data_root: Path, policy: str, agent: str) -> Config:
    config = Config()
    config.environment.data_dir = str(data_root)
    config.environment.split = "tiny"
    config.environment.max_steps = 7
    config.evaluation.agent = agent
    config.evaluation.games = 3
    config.evaluation.trials = 1
    config.evaluation.parallel = 1
    config.policy.model = policy
    config.policy.max_interaction_rounds = 2
    config.policy.max_thought = 0  # a thought costs decoding time and is not what is tested
    config.llm.structured = "on"
    return config


def rounds_of(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["reply"] for s in steps for r in s["decision"]["details"]["rounds"]]


def test_smollm2_over_the_llama_cpp_server_never_answers_unparseably(
    llama_server: str, data_root: Path, tmp_path: Path
) -> None:
    steps = play(structured_config(data_root, f"openai:smollm2@{llama_server}", "vanilla"), tmp_path / "run")
    replies = rounds_of(steps)
    assert len(steps) >= 20 and len(replies) >= 20
    assert [r["parse_errors"] for r in replies] == [[]] * len(replies)
    assert all(s["decision"]["details"]["fallback"] is None for s in steps)


def test_smollm2_in_process_as_implement_never_answers_unparseably(data_root: Path, tmp_path: Path) -> None:
    steps = play(structured_config(data_root, "local:smollm2-135m", "implement"), tmp_path / "run")
    replies = rounds_of(steps)
    assert len(steps) >= 20 and len(replies) > len(steps)  # proposals were made, then choices
    assert [r["parse_errors"] for r in replies] == [[]] * len(replies)
    assert all(s["decision"]["details"]["fallback"] is None for s in steps)
