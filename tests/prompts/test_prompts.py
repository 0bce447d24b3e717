"""The prompts: versions (recorded in run.json and training outputs), the policy's compact state,
and an order that keeps consecutive requests' prefixes identical for prompt caches."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import implement.prompts
from implement.agents.base import TaskMemory
from implement.agents.baselines import ReactAgent
from implement.agents.belief import Belief, llm_belief
from implement.agents.implement import ImplementAgent
from implement.agents.planner import PlannerPolicy
from implement.agents.policy import PolicyReply, PolicyView
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.eval.rundir import RunDir
from implement.llm.base import Message
from implement.llm.scripted import Script, ScriptedChatModel
from implement.prompts import belief, policy, prompt_versions, react
from implement.prompts.state_text import render_state
from implement.state import ReceptacleState, SymbolicState
from implement.world_model.symbolic import SymbolicWorldModel
from training import base_model_dir, trained_adapter  # noqa: F401 (a fixture)


def test_every_prompt_module_has_a_version_and_prompt_versions_lists_them() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(implement.prompts.__path__))
    assert modules == ["belief", "policy", "react", "schemas", "state_text", "world_model"]
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
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())["prompt_versions"]
    assert recorded["policy"] == policy.VERSION


@pytest.mark.slow
def test_training_outputs_record_the_prompt_versions(trained_adapter: Path) -> None:  # noqa: F811
    pytest.importorskip("torch")
    from implement.train.sft import TRAIN_INFO

    info = json.loads((trained_adapter / TRAIN_INFO).read_text())
    assert info["prompt_versions"] == prompt_versions()


# -- the policy's compact state --------------------------------------------------------------------------

STATE = SymbolicState(
    agent_location="countertop 1",
    inventory="apple 1(hot)",
    world_state={
        "cabinet 1": ReceptacleState(open=False),
        "countertop 1": ReceptacleState(True, "N/A", ("knife 1", "mug 2(clean)")),
        "fridge 1": ReceptacleState(True, False),
        "drawer 1": ReceptacleState(False, False, ("fork 1",)),  # put there, never seen inside
        "microwave 1": ReceptacleState(True, True),
        "shelf 1": ReceptacleState(),
        "cabinet 2": ReceptacleState(True, False, ("plate 1",)),
        "sinkbasin 1": ReceptacleState(True, "N/A"),
    },
)


def test_the_compact_state_lists_unvisited_receptacles_once_and_visited_ones_with_contents() -> None:
    assert render_state(STATE) == (
        "At: countertop 1. Holding: apple 1(hot).\n"
        "Not visited: cabinet 1, drawer 1 (holds fork 1), shelf 1\n"
        "Visited:\n"
        "countertop 1: knife 1, mug 2(clean)\n"
        "fridge 1 (closed): unknown\n"
        "microwave 1 (open): empty\n"
        "cabinet 2 (closed): plate 1\n"
        "sinkbasin 1: empty"
    )
    start = SymbolicState(world_state={"shelf 1": ReceptacleState(), "safe 1": ReceptacleState(open=False)})
    assert render_state(start) == "At: middle of room. Holding: nothing.\nNot visited: shelf 1, safe 1"


VIEW = PolicyView(
    goal="put a hot apple in fridge.",
    task_type="pick_heat_then_place_in_recep",
    state=STATE,
    history=[("go to countertop 1", True), ("open countertop 1", False)],
    admissible=("go to fridge 1", "look"),
    evaluated={
        "look": Belief("look", 2, text="look: nothing happens (2/2 imagined outcomes)."),
        "go to fridge 1": Belief("go to fridge 1", 2, text="go to fridge 1 (2 imagined outcomes); at"),
    },
    round=2,
    final=False,
)


def test_the_policy_prompt_puts_fixed_parts_first_and_the_round_last() -> None:
    system, user = policy.policy_messages(VIEW, 3)
    assert system == {"role": "system", "content": policy.SYSTEM_TEXT}
    text = str(user["content"])
    sections = ["Goal: ", "Actions executed so far:\n", "Current state:\n", "Admissible commands:\n",
                "Evaluated actions (imagined by the world model):\n", "Round 2. Either propose"]  # fmt: skip
    assert [text.index(s) for s in sections] == sorted(text.index(s) for s in sections)
    assert text.startswith("Goal: put a hot apple in fridge.\n\n")
    assert "so far:\n1. go to countertop 1\n2. open countertop 1 (failed)\n\n" in text
    assert f"Current state:\n{render_state(STATE)}\n\n" in text
    assert "Admissible commands:\ngo to fridge 1\nlook\n\n" in text
    assert ("world model):\n- look: nothing happens (2/2 imagined outcomes).\n"
            "- go to fridge 1: (2 imagined outcomes); at\n\nRound 2.") in text  # fmt: skip
    assert "world_state" not in text and "{" not in text
    for key in ('"thought"', '"help"', '"action"', '"proposals"', "Not visited:", "Visited:", "(failed)"):
        assert key in policy.SYSTEM_TEXT


class Recording:
    """The planner, keeping every view it is shown."""

    def __init__(self) -> None:
        self.inner, self.name, self.views = PlannerPolicy(), "planner", list[PolicyView]()

    def reset(self, goal: str, task_type: str) -> None:
        self.inner.reset(goal, task_type)

    async def decide(self, view: PolicyView) -> PolicyReply:
        self.views.append(view)
        return await self.inner.decide(view)


def play(agent: Any, game: Game, max_steps: int) -> bool:
    env = AlfworldEnv(max_steps=max_steps)
    task, observation = env.reset(game)
    agent.reset(task, TaskMemory(game.id))
    while not observation.done:
        observation = env.step(asyncio.run(agent.act(observation)).action)
    return observation.won


def test_consecutive_policy_requests_of_an_episode_share_all_but_what_changed(tiny_games: list[Game]) -> None:
    recording = Recording()
    assert play(ImplementAgent(recording, SymbolicWorldModel.default(), mc_samples=2), tiny_games[2], 30)
    requests = [policy.policy_messages(view, 8) for view in recording.views]
    assert len({len(view.history) for view in recording.views}) > 5 and len(requests) > 10
    assert all(system == {"role": "system", "content": policy.SYSTEM_TEXT} for system, _ in requests)
    users = [str(user["content"]) for _, user in requests]
    for (view, before), (next_view, after) in itertools.pairwise(zip(recording.views, users, strict=True)):
        if len(next_view.history) == len(view.history):  # the next round: only the round's part differs
            kept = before[: before.index("Evaluated actions")]
        else:  # the next step: the goal and the executed actions so far stay
            kept = before[: before.index("\n\nCurrent state:")].removesuffix("(none yet)")
        assert after.startswith(kept), (before, after)


def test_consecutive_react_requests_extend_the_transcript_at_the_end(tiny_games: list[Game]) -> None:
    script = {
        "rules": [{"match": r"OK\.\n\nWrite your next line", "responses": ["> look"]}],
        "default": "think: I should look around first.",
    }
    sent: list[list[Message]] = []

    class Recorded(ScriptedChatModel):
        async def chat(self, messages, **kwargs):  # type: ignore[no-untyped-def]
            sent.append(messages)
            return await super().chat(messages, **kwargs)

    play(ReactAgent(Recorded(Script.from_dict(script))), tiny_games[0], 3)
    assert len(sent) == 6
    assert all(system == {"role": "system", "content": react.SYSTEM_TEXT} for system, _ in sent)
    users = [str(user["content"]) for _, user in sent]
    assert users[0].startswith("Here is an example of a solved task:\n")
    for before, after in itertools.pairwise(users):
        assert after.startswith(before.removesuffix(f"\n\n{react.NEXT_LINE}")) and len(after) > len(before)
