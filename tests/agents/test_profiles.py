"""`--profile paper` plays the paper's algorithm over real HTTP on a built game: 5 imagination rounds
and one final call a step, with the paper's sampling settings on the wire; the default profile keeps
ours. The policy, its belief summaries and the world model are one test server's chat model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAIServer
from implement.config import load_config
from implement.eval.rundir import RunDir
from implement.eval.runner import evaluate
from implement.jsonl import read_jsonl
from implement.llm.base import Completion, Message, Usage, message_text
from implement.prompts import belief as belief_prompt
from implement.prompts.world_model import PER_TAG, PRE_TAG
from implement.world_model.parsing import json_objects
from recording import prompt_bullets

pytestmark = pytest.mark.timeout(300)

STEPS = 2


class HelpSeeker:
    """Answers every request by its kind, and keeps (kind, temperature, top_p, n) of each: the policy
    always asks for help (a fresh admissible command a round, even when told to choose), the
    belief is a sentence, and the world model answers the state it was given."""

    name = "m"
    identity = "test:help-seeker"
    schema_support = "unconstrained"

    def __init__(self) -> None:
        self.usage = Usage()
        self.calls: list[tuple[str, float, float, int]] = []

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: dict[str, Any] | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        kind, text = self.answer(messages)
        self.calls.append((kind, temperature, top_p, n))
        return [Completion(text, finish_reason="stop")] * n

    def answer(self, messages: list[Message]) -> tuple[str, str]:
        prompt = message_text(messages[-1])
        if prompt.startswith((PER_TAG, PRE_TAG)):
            state = next(o for o in json_objects(prompt) if "world_state" in o)
            return ("prediction" if prompt.startswith(PRE_TAG) else "perception"), json.dumps(state)
        if messages[0]["content"] == belief_prompt.SYSTEM_TEXT:
            return "belief", "The agent would be elsewhere."
        if "Admissible commands:" not in prompt:
            return "probe", "ready"
        evaluated = [line.split(": ", 1)[0] for line in prompt_bullets(prompt, "Evaluated actions")]
        fresh = [c for c in prompt_bullets(prompt, "Admissible commands:") if c not in evaluated]
        return "policy", json.dumps({"thought": "", "help": True, "action": None, "proposals": fresh[:1]})


def play(data_root: Path, out: Path, profile: str | None) -> tuple[list[dict[str, Any]], HelpSeeker]:
    """One game, one trial of `implement` under `profile`, every model on one test server."""
    seeker = HelpSeeker()
    server = FakeOpenAIServer(chat_model=seeker, model="m")
    with server.running() as url:
        config = load_config(flags={"--profile": ("profile", profile)}, environ={})
        config.environment.data_dir, config.environment.split = str(data_root), "tiny"
        config.environment.max_steps = STEPS
        config.evaluation.games, config.evaluation.trials, config.evaluation.parallel = 1, 1, 1
        config.policy.model = config.world_model.model = f"openai:m@{url}"
        config.llm.api_key, config.llm.max_retries, config.world_model.mc_samples = "k", 0, 3
        asyncio.run(evaluate(config, out))
    steps = [step for path in sorted((out / "steps").rglob("*.jsonl")) for step in read_jsonl(path)]
    return steps, seeker


def decisions(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s["decision"] for s in steps if s.get("decision")]


def test_the_paper_profile_imagines_five_rounds_then_makes_one_final_call(
    data_root: Path, tmp_path: Path
) -> None:
    steps, seeker = play(data_root, tmp_path / "paper", "paper")
    made = decisions(steps)
    assert len(made) == STEPS
    for decision in made:
        rounds = decision["details"]["rounds"]
        assert [r["round"] for r in rounds] == [1, 2, 3, 4, 5, 6]
        assert all("imagined" in r for r in rounds[:5]) and "imagined" not in rounds[5]
        assert rounds[5]["reply"]["parse_errors"]  # asked for help when it had to choose: refused
        assert decision["details"]["fallback"]  # so the step fell back, and says so
    assert RunDir(tmp_path / "paper").meta()["config"]["profile"] == "paper"
    sampling = {(kind, t, p) for kind, t, p, _ in seeker.calls if kind in ("policy", "belief", "prediction")}
    assert sampling == {("policy", 1.0, 1.0), ("belief", 1.0, 1.0), ("prediction", 1.0, 0.9)}
    beliefs = sum(1 for kind, *_ in seeker.calls if kind == "belief")
    imagined = sum(len(r["imagined"]) for d in made for r in d["details"]["rounds"] if "imagined" in r)
    assert beliefs == imagined  # every imagined action's belief written by the policy's LLM


def test_the_default_profile_chooses_in_its_last_round_greedily(data_root: Path, tmp_path: Path) -> None:
    steps, seeker = play(data_root, tmp_path / "implement", None)
    for decision in decisions(steps):
        assert [r["round"] for r in decision["details"]["rounds"]] == [1, 2, 3, 4, 5]
    kinds = {kind for kind, *_ in seeker.calls}
    assert "belief" not in kinds  # exact beliefs: no LLM summary
    assert {(t, p) for kind, t, p, _ in seeker.calls if kind == "policy"} == {(0.0, 1.0)}
    assert RunDir(tmp_path / "implement").meta()["config"]["profile"] == "implement"
