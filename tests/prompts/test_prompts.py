"""Prompt versions: one per prompt module, recorded in run.json and in training outputs."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import implement.prompts
from implement.agents.belief import llm_belief
from implement.eval.rundir import RunDir
from implement.llm.scripted import Script, ScriptedChatModel
from implement.prompts import belief, prompt_versions
from implement.state import SymbolicState
from training import base_model_dir, trained_adapter  # noqa: F401 (a fixture)


def test_every_prompt_module_has_a_version_and_prompt_versions_lists_them() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(implement.prompts.__path__))
    assert modules == ["belief", "policy", "react", "schemas", "world_model"]
    versions = prompt_versions()
    assert sorted(versions) == modules
    for name in modules:
        version = importlib.import_module(f"implement.prompts.{name}").VERSION
        assert versions[name] == version and isinstance(version, str) and version
    assert len(set(versions.values())) == len(versions)


def test_the_belief_summarizer_sends_its_prompt_from_prompts() -> None:
    state = SymbolicState.from_dict(
        {"agent_location": "middle of room", "inventory": "nothing", "world_state": {}}
    )
    moved = SymbolicState.from_dict({"agent_location": "fridge 1", "inventory": "nothing", "world_state": {}})
    sent: list[list[dict[str, object]]] = []

    class Recording(ScriptedChatModel):
        async def chat(self, messages, **kwargs):  # type: ignore[no-untyped-def]
            sent.append(messages)
            return await super().chat(messages, **kwargs)

    summary = asyncio.run(llm_belief(Recording(Script(default="You would be at fridge 1.")), state,
                                     "go to fridge 1", [moved, moved], max_tokens=64))  # fmt: skip
    assert summary.text == "go to fridge 1: You would be at fridge 1."
    [messages] = sent
    assert messages[0] == {"role": "system", "content": belief.SYSTEM_TEXT}
    assert messages[1]["content"].startswith("Action: go to fridge 1\nImagined changes:\n- 2/2 samples: ")


def test_run_json_records_the_prompt_versions(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({"config": {}})
    assert run.meta()["prompt_versions"] == prompt_versions()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["prompt_versions"]["policy"] == "policy-1"


@pytest.mark.slow
def test_training_outputs_record_the_prompt_versions(trained_adapter: Path) -> None:  # noqa: F811
    pytest.importorskip("torch")
    from implement.train.sft import TRAIN_INFO

    info = json.loads((trained_adapter / TRAIN_INFO).read_text())
    assert info["prompt_versions"] == prompt_versions()
