"""The baselines (vanilla, ReAct, Reflexion): prompts, thoughts, fallbacks and runs over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAIServer, FaultPlan
from implement.agents import Agent, agent_builder
from implement.agents.base import Decision, TaskMemory
from implement.agents.baselines import FAILED_EPISODE, REFLECTIONS, ReactAgent, ReflexionAgent
from implement.agents.goals import parse_goal
from implement.agents.implement import ImplementAgent
from implement.config import Config
from implement.envs.base import Observation, Task
from implement.envs.games import TASK_TYPES
from implement.errors import ConfigError
from implement.eval.runner import Progress, evaluate
from implement.llm.base import LLMError
from implement.llm.scripted import Script
from implement.prompts.react import (
    EXAMPLES,
    REFLECTIONS_HEAD,
    SYSTEM_TEXT,
    react_messages,
)
from implement.prompts.react import (
    VERSION as REACT_PROMPT_VERSION,
)
from recording import served

pytestmark = pytest.mark.timeout(120)

TASK = Task("kitchen/1", "pick_cool_then_place_in_recep", "put a cool apple in fridge.")
ROOM = (
    "You are in the middle of a room. Looking quickly around you, you see a countertop 1, and a fridge 1."
    "\n\nYour task is to: put a cool apple in fridge."
)
OBSERVATION = Observation(
    f"-= Welcome to TextWorld, ALFRED! =-\n\n{ROOM}",
    ("go to fridge 1", "take apple 1 from countertop 1", "move apple 1 to fridge 1", "look"),
    step=0,
)
REFLECTION_ASKED = "The task was not completed"  # in every reflection request


def first_act(agent: ReactAgent, memory: TaskMemory | None = None) -> Decision:
    agent.reset(TASK, memory or TaskMemory(TASK.game_id))
    return asyncio.run(agent.act(OBSERVATION))


def make_config(data_root: Path, agent: str, trials: int, max_steps: int) -> Config:
    config = Config()
    config.environment.data_dir, config.environment.split = str(data_root), "tiny"
    config.environment.max_steps = max_steps
    config.evaluation.agent, config.evaluation.trials, config.evaluation.parallel = agent, trials, 2
    config.evaluation.replay_solved = True
    return config


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def decisions(out: Path) -> list[dict[str, Any]]:
    lines = [line for f in sorted((out / "steps").rglob("*.jsonl")) for line in read_lines(f)]
    assert not any("error" in line for line in lines)
    return [line["decision"] for line in lines if "decision" in line]


def goal_of(prompt: str) -> str:
    match = re.search(r"Here is your task, so far:\n.*?Your task is to: (.+?)$", prompt, re.S | re.M)
    assert match, prompt
    return match.group(1)


# -- the prompt ----------------------------------------------------------------------------------------


def test_each_task_type_has_its_own_example_and_gets_it() -> None:
    assert REACT_PROMPT_VERSION == "react-1"
    assert set(EXAMPLES) == set(TASK_TYPES) and len(set(EXAMPLES.values())) == len(TASK_TYPES)
    for task_type, example in EXAMPLES.items():
        assert example.startswith("You are in the middle of a room. Looking quickly around you, you see ")
        assert "\n> think: " in example and "\nOK.\n> go to " in example
        goal = re.search(r"\nYour task is to: (.+)\n", example)
        assert goal and parse_goal(goal.group(1)).task_type == task_type
        system, user = react_messages(task_type, "the transcript", ["be quicker"])
        assert system == {"role": "system", "content": SYSTEM_TEXT}
        assert [t for t, e in EXAMPLES.items() if e in user["content"]] == [task_type]
        assert f"{REFLECTIONS_HEAD}\n- be quicker" in user["content"]
    assert REFLECTIONS_HEAD not in react_messages(TASK.task_type, "the transcript")[1]["content"]


# -- one step over HTTP --------------------------------------------------------------------------------


def test_an_action_is_normalized_against_the_admissible_commands() -> None:
    with served({"default": "> Put apple 1 in fridge 1.\nThen I am done."}) as (server, recorder):
        decision = first_act(ReactAgent(recorder))
    assert decision.action == "move apple 1 to fridge 1" and decision.details["admissible"] is True
    assert decision.details["answers"] == ["> Put apple 1 in fridge 1.\nThen I am done."]
    assert decision.details["thoughts"] == []
    assert decision.usage["llm_calls"] == server.stats.requests == 1 and decision.usage["prompt_tokens"] > 0
    (prompt,) = recorder.users()
    assert EXAMPLES[TASK.task_type] in prompt and "Welcome to TextWorld" not in prompt
    assert prompt.endswith(f"Here is your task, so far:\n{ROOM}\n\nWrite your next line.")


@pytest.mark.parametrize(("max_thoughts", "answer"), [(3, "think: hmm"), (0, "think: hmm"), (3, "")])
def test_thoughts_are_bounded_and_an_unusable_answer_is_still_played(max_thoughts: int, answer: str) -> None:
    with served({"default": answer}) as (server, recorder):
        decision = first_act(ReactAgent(recorder, max_thoughts=max_thoughts))
    asked = max_thoughts + 1 if answer else 1
    assert server.stats.requests == decision.usage["llm_calls"] == asked
    assert decision.action == answer and decision.details["admissible"] is False
    assert decision.details["thoughts"] == (["hmm"] * max_thoughts if answer else [])
    assert decision.details["answers"] == [answer] * asked
    assert recorder.users()[-1].count("> think: hmm\nOK.") == len(decision.details["thoughts"])


def test_a_failed_request_raises_and_plays_nothing() -> None:
    with (
        served({"default": "look"}, FaultPlan(rate=1.0, kinds=("500",))) as (server, recorder),
        pytest.raises(LLMError, match=r"request failed .*500"),
    ):
        first_act(ReactAgent(recorder))
    assert server.stats.requests == 1 and recorder.inner.usage.failed_requests == 1


def test_a_reflection_is_made_before_the_first_prompt_and_the_last_three_kept() -> None:
    data = {REFLECTIONS: ["r1", "r2", "r3"], FAILED_EPISODE: {"transcript": "> look\nNothing.", "steps": 1}}
    script = {
        "rules": [{"match": REFLECTION_ASKED, "responses": ["r4: open the fridge."]}],
        "default": "look",
    }
    memory = TaskMemory(TASK.game_id, 2, data)
    with served(script) as (_, recorder):
        decision = first_act(ReflexionAgent(recorder), memory)
    reflect, prompt = recorder.users()
    assert "Here is the attempt:\n> look\nNothing." in reflect and "within 1 steps" in reflect
    assert memory.data == {REFLECTIONS: ["r2", "r3", "r4: open the fridge."]}
    assert f"{REFLECTIONS_HEAD}\n- r2\n- r3\n- r4: open the fridge.\n" in prompt
    assert decision.details["reflection"] == "r4: open the fridge." and decision.usage["llm_calls"] == 2

    memory = TaskMemory(TASK.game_id, 2, {FAILED_EPISODE: {"transcript": "> look", "steps": 1}})
    with (
        served(script, FaultPlan(rate=1.0, kinds=("500",))) as (server, recorder),
        pytest.raises(LLMError, match="request failed"),
    ):
        first_act(ReflexionAgent(recorder), memory)
    assert server.stats.requests == 1 and REFLECTIONS not in memory.data


# -- runs on the built games ---------------------------------------------------------------------------


def test_react_thinks_without_spending_steps_and_shows_its_task_types_example(
    data_root: Path, tmp_path: Path
) -> None:
    script = {
        "rules": [{"match": r"OK\.\n\nWrite your next line", "responses": ["> Look."]}],
        "default": "think: I should look around first.",
    }
    with served(script) as (server, recorder):

        def builder(config: Config, **_: Any) -> Callable[[], Agent]:
            return lambda: ReactAgent(recorder)

        config = make_config(data_root, "react", trials=1, max_steps=3)
        summary = asyncio.run(evaluate(config, tmp_path / "run", builder=builder))
    assert summary["episodes"] == 6 and summary["errors"] == 0
    episodes = read_lines(tmp_path / "run" / "episodes.jsonl")
    steps = sum(e["steps"] for e in episodes)
    decided = decisions(tmp_path / "run")
    assert steps == len(decided) == 18 and server.stats.requests == len(recorder.sent) == 2 * steps
    for decision in decided:
        assert decision["action"] == "look" and decision["usage"]["llm_calls"] == 2
        assert decision["details"]["thoughts"] == ["I should look around first."]
        assert decision["details"]["answers"] == ["think: I should look around first.", "> Look."]
    task_types = {e["goal"]: e["task_type"] for e in episodes}
    for prompt in recorder.users():
        shown = [t for t, example in EXAMPLES.items() if example in prompt]
        assert shown == [task_types[goal_of(prompt)]]
    assert any("> think: I should look around first.\nOK.\n> look\nYou are" in p for p in recorder.users())


def test_reflections_reach_later_trials_of_the_same_game_only(data_root: Path, tmp_path: Path) -> None:
    objects = ("cellphone", "alarmclock", "mug", "apple", "egg", "newspaper")  # one per built game
    reflect = [
        {"match": rf"(?s)Your task is to: [^\n]*\b{o}\b.*{REFLECTION_ASKED}", "responses": [f"On the {o}."]}
        for o in objects
    ]
    script = {"rules": reflect, "default": "look"}
    marks: list[int] = []
    with served(script) as (_, recorder):

        def builder(config: Config, **_: Any) -> Callable[[], Agent]:
            return lambda: ReflexionAgent(recorder)

        config = make_config(data_root, "reflexion", trials=2, max_steps=3)
        progress = Progress(on_trial=lambda trial, pending: marks.append(len(recorder.sent)))
        summary = asyncio.run(evaluate(config, tmp_path / "run", builder=builder, progress=progress))
    assert summary["episodes"] == 12 and summary["errors"] == 0
    prompts = recorder.users()
    first, second = prompts[: marks[1]], prompts[marks[1] :]
    assert len(first) == 18 and not any(REFLECTIONS_HEAD in p or REFLECTION_ASKED in p for p in first)
    reflections = [p for p in second if REFLECTION_ASKED in p]
    assert len(reflections) == 6 and len(second) == 6 + 18
    for prompt in second:
        if prompt in reflections:
            continue
        own = [o for o in objects if re.search(rf"\b{o}\b", goal_of(prompt))]
        assert [o for o in objects if f"On the {o}." in prompt] == own
        assert f"{REFLECTIONS_HEAD}\n- On the {own[0]}.\n" in prompt
    memories = read_lines(tmp_path / "run" / "memory.jsonl")
    assert all(len(m["data"].get(REFLECTIONS, [])) == (m["trial"] - 1) for m in memories)
    assert all(FAILED_EPISODE in m["data"] for m in memories)  # every episode failed: 3 steps of "look"


@pytest.mark.parametrize(("agent", "trials"), [("vanilla", 1), ("react", 1), ("reflexion", 2)])
def test_the_registered_baselines_play_the_built_games(
    agent: str, trials: int, data_root: Path, tmp_path: Path
) -> None:
    policy_answer = json.dumps({"thought": "t", "help": False, "action": "look", "proposals": []})
    script = {
        "rules": [
            {"match": REFLECTION_ASKED, "responses": ["I only looked around; next time I search."]},
            {"match": "Write your next line", "responses": ["> Look."]},
        ],
        "default": policy_answer,
    }
    server = FakeOpenAIServer(Script.from_dict(script))
    with server.running() as url:
        config = make_config(data_root, agent, trials=trials, max_steps=2)
        config.llm.model, config.llm.api_key = f"openai:fake-model@{url}", "k"
        summary = asyncio.run(evaluate(config, tmp_path / "run"))
    assert summary["episodes"] == 6 * trials and summary["errors"] == 0
    decided = decisions(tmp_path / "run")
    assert len(decided) == 6 * trials * 2 and all(d["action"] == "look" for d in decided)
    probe = 1  # the one request that checks the model before the run
    assert server.stats.requests == probe + sum(d["usage"]["llm_calls"] for d in decided) > probe
    if agent == "vanilla":
        assert all(len(d["details"]["rounds"]) == 1 for d in decided)
        assert all("imagined" not in d["details"]["rounds"][0] for d in decided)
    if agent == "reflexion":
        assert sum(d["details"].get("reflection") is not None for d in decided) == 6


def test_the_builders_make_fresh_agents_sharing_one_chat_model() -> None:
    config = Config()
    config.llm.model, config.llm.max_tokens, config.llm.temperature = "scripted:", 99, 0.5
    vanilla = agent_builder("vanilla")(config)()
    assert isinstance(vanilla, ImplementAgent) and vanilla.name == "vanilla"
    assert (vanilla.imagination, vanilla.metaicl) == (False, False)
    for name, kind in (("react", ReactAgent), ("reflexion", ReflexionAgent)):
        new_agent = agent_builder(name)(config)
        first, second = new_agent(), new_agent()
        assert type(first) is kind and first is not second and first.name == name
        assert isinstance(first, ReactAgent) and isinstance(second, ReactAgent)
        assert first.chat_model is second.chat_model and (first.max_tokens, first.temperature) == (99, 0.5)


@pytest.mark.parametrize("agent", ["vanilla", "react", "reflexion"])
def test_a_baseline_without_an_llm_is_refused(agent: str) -> None:
    with pytest.raises(ConfigError, match=f"{agent} needs an LLM: pass --policy SPEC or set llm.model"):
        agent_builder(agent)(Config())


def test_the_cli_refuses_react_without_an_llm(cli: Callable[..., Any]) -> None:
    result = cli("evaluate", "--agent", "react", "--split", "tiny", "--trials", "1", "--out", "run")
    assert result.returncode == 1
    assert "react needs an LLM: pass --policy SPEC" in result.stdout + result.stderr
