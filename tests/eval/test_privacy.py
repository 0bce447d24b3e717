"""Privileged data never reaches the real agents: not through their inputs, their builder, their
prompts, or anything the process holds (game files, the engine and its caches)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alfgames import standard_games
from implement.agents import Agent, Decision, EpisodeOutcome, TaskMemory, agent_builder
from implement.config import Config, apply_overrides
from implement.envs.alfworld import AlfworldEnv
from implement.envs.base import Observation, Task
from implement.envs.games import DATA_VERSION, Game, find_games, read_walkthrough
from implement.eval.runner import evaluate
from implement.llm.base import Completion, Message, Usage
from implement.llm.openai_chat import SCHEMA_PROBE_MESSAGES
from implement.llm.probe import PROBE_MESSAGES
from implement.llm.scripted import Script, ScriptedChatModel
from implement.serve.openai_app import create_openai_app
from servers import serving

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# A TextWorld fact as the engine prints it: `inreceptacle(cellphone 1: object, drawer 1: receptacle)`.
FACT = re.compile(
    r"\b(inreceptacle|atlocation|receptacleatlocation|objectatlocation|objecttype|receptacletype|holds|opened|"
    r"isclean|ishot|iscool|checked|openable)\(|\w+\([^()]*: (object|receptacle|otype|rtype|location)\b"
)
OBJECT_ID = re.compile(r"\b([a-z]+ \d+)\b")
ENGINE = ("textworld", "alfworld", "fast_downward", "implement.envs.engine", "implement.envs.alfworld")


@dataclasses.dataclass
class Seen:
    """Everything the runner handed one agent kind, in order."""

    builder_args: list[Any] = dataclasses.field(default_factory=list)
    inputs: list[Any] = dataclasses.field(default_factory=list)
    episodes: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Recording:
    """The real agent, with every argument the runner passes it kept (deep copies) before it acts."""

    def __init__(self, agent: Agent, seen: Seen) -> None:
        self.agent, self.seen, self.name = agent, seen, agent.name
        self.episode: dict[str, Any] = {}

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self.seen.inputs += [task, copy.deepcopy(memory)]
        self.episode = {"task": dataclasses.asdict(task), "memory": copy.deepcopy(memory.to_dict()),
                        "observations": [], "actions": []}  # fmt: skip
        self.seen.episodes.append(self.episode)
        self.agent.reset(task, memory)

    async def act(self, observation: Observation) -> Decision:
        self.seen.inputs.append(observation)
        decision = await self.agent.act(observation)
        self.episode["observations"].append(observation.to_dict())
        self.episode["actions"].append(decision.action)
        return decision

    def finish(self, outcome: EpisodeOutcome) -> None:
        self.seen.inputs.append(outcome)
        self.agent.finish(outcome)


def recording_builder(name: str, seen: Seen) -> Callable[..., Callable[[], Agent]]:
    """The registry's real builder for `name`, its arguments kept and its agents recorded."""
    real = agent_builder(name)

    def build(*args: Any, **kwargs: Any) -> Callable[[], Agent]:
        seen.builder_args.extend([*args, kwargs])
        new_agent = real(*args, **kwargs)
        return lambda: Recording(new_agent(), seen)

    return build


def walk(value: object) -> Iterator[object]:
    """Every value inside `value`: dataclass fields, dict keys and values, sequence items."""
    yield value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from walk(getattr(value, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from (*walk(k), *walk(v))
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from walk(v)


def told(inputs: list[object]) -> list[object]:
    """The inputs that do not echo the agent's own actions (outcomes and memories do)."""
    return [i for i in inputs if not isinstance(i, EpisodeOutcome | TaskMemory)]


def assert_private(values: list[object], games: list[Game], root: Path, *, plans: bool = True) -> None:
    """No game-file path or engine fact in `values`, nor (`plans`) a list holding a whole walkthrough."""
    walkthroughs = [read_walkthrough(g) for g in games] if plans else []
    for value in (v for item in values for v in walk(item)):
        if isinstance(value, Path | str):
            assert str(root) not in str(value), f"a game-file path reached the agent: {value}"
            assert not FACT.search(str(value)), f"an engine fact reached the agent: {value}"
        if isinstance(value, list | tuple):
            items = list(value)
            for plan in walkthroughs:
                starts = range(len(items) - len(plan) + 1)
                assert not any(items[i : i + len(plan)] == plan for i in starts), f"a walkthrough: {value}"


@pytest.fixture
def games_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the built games that the test may delete; translations cached beside it."""
    root = tmp_path / "alfworld"
    standard_games(root / DATA_VERSION / "tiny")
    monkeypatch.setenv("IMPLEMENT_CACHE_DIR", str(tmp_path / "translations"))
    return root


def config_of(root: Path, **overrides: dict[str, Any]) -> Config:
    config = apply_overrides(Config(), overrides, "test")
    config.environment.data_dir, config.environment.split, config.environment.max_steps = str(root), "tiny", 8
    config.evaluation.trials, config.evaluation.replay_solved, config.evaluation.parallel = 2, True, 2
    return config


def play(config: Config, out: Path, seen: Seen) -> dict[str, Any]:
    """The run, with its envs checked unprivileged and its logs free of engine facts."""
    envs: list[AlfworldEnv] = []

    def make_env(config: Config) -> AlfworldEnv:
        envs.append(AlfworldEnv(max_steps=config.environment.max_steps))
        return envs[-1]

    builder = recording_builder(config.evaluation.agent, seen)
    summary = asyncio.run(evaluate(config, out, builder=builder, make_env=make_env))
    assert summary["errors"] == 0 and summary["episodes"] == 12, summary
    assert len(envs) == config.evaluation.parallel and not any(env.privileged for env in envs)
    for path in [out / "episodes.jsonl", *sorted((out / "steps").rglob("*.jsonl"))]:
        assert not FACT.search(path.read_text()), path
    return summary


REPLAY = """
import asyncio, importlib.abc, json, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is blocked in the replay")

BLOCKED = json.loads(sys.argv[1])
sys.meta_path.insert(0, Blocked())
from implement.agents import TaskMemory, agent_builder
from implement.config import Config, apply_overrides
from implement.envs.base import Observation, Task

overrides, episodes = json.loads(sys.argv[2]), json.loads(sys.stdin.read())
config = apply_overrides(Config(), overrides, "replay")
new_agent = agent_builder(config.evaluation.agent)(config)

async def replay():
    actions = []
    for episode in episodes:
        agent, memory = new_agent(), episode["memory"]
        agent.reset(Task(**episode["task"]), TaskMemory(memory["game_id"], memory["trial"], memory["data"]))
        actions.append([])
        for seen in episode["observations"]:
            seen["admissible_commands"] = tuple(seen["admissible_commands"])
            actions[-1].append((await agent.act(Observation(**seen))).action)
    return actions

print(json.dumps(asyncio.run(replay())))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("textworld", "alfworld"))))
"""


def test_the_implement_agent_decides_from_its_inputs_alone(games_root: Path, tmp_path: Path) -> None:
    """Planner + symbolic world model: its inputs and builder hold nothing privileged, and a replay in a
    process without the engine, the game files or any cache gives the same actions (memories included)."""
    overrides: dict[str, dict[str, Any]] = {"evaluation": {"agent": "implement"}}
    config, seen = config_of(games_root, **overrides), Seen()
    games = find_games("tiny", games_root)
    play(config, tmp_path / "run", seen)

    assert_private(seen.inputs, games, games_root, plans=False)  # a solved game's actions are the plan's
    assert_private([*seen.builder_args, *told(seen.inputs)], games, games_root)
    assert {type(i).__name__ for i in seen.inputs} == {"Task", "TaskMemory", "Observation", "EpisodeOutcome"}
    assert any(e["memory"]["data"] for e in seen.episodes), "trial 2 starts from trial 1's memory"

    shutil.rmtree(games_root)  # nothing left to read: no game file, no translation
    shutil.rmtree(tmp_path / "translations", ignore_errors=True)
    env = {
        **os.environ,
        "ALFWORLD_DATA": str(tmp_path / "nothing"),
        "IMPLEMENT_CACHE_DIR": str(tmp_path / "x"),
    }
    result = subprocess.run(
        [sys.executable, "-c", REPLAY, json.dumps(ENGINE), json.dumps(overrides)],
        input=json.dumps(seen.episodes), capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    replayed, engine_modules = (json.loads(line) for line in result.stdout.splitlines()[-2:])
    assert engine_modules == []
    assert replayed == [e["actions"] for e in seen.episodes]


class RecordingScript:
    """The server side of an LLM: a scripted chat model that keeps every conversation it is sent."""

    def __init__(self, script: Script) -> None:
        self.inner = ScriptedChatModel(script, name="policy-llm")
        self.name, self.identity, self.usage = self.inner.name, self.inner.identity, Usage()
        self.received: list[list[Message]] = []

    async def chat(self, messages: list[Message], **kwargs: Any) -> list[Completion]:
        self.received.append(messages)
        return await self.inner.chat(messages, **kwargs)


def test_an_llm_policy_over_http_is_never_shown_privileged_data(games_root: Path, tmp_path: Path) -> None:
    """IMPLEMENT with an LLM policy served over HTTP: no prompt holds a path, a walkthrough, an engine
    fact or an object the environment never showed the agent (what closed receptacles truly hold)."""
    model = RecordingScript(Script.load(EXAMPLES / "scripted_policy.json"))
    games = find_games("tiny", games_root)
    with serving(create_openai_app(model, served_name="policy-llm")) as url:
        overrides: dict[str, dict[str, Any]] = {
            "evaluation": {"agent": "implement"},
            "policy": {"model": f"openai:policy-llm@{url}/v1"},
            "llm": {"api_key": "k", "max_retries": 0},
        }
        seen = Seen()
        play(config_of(games_root, **overrides), tmp_path / "run", seen)

    assert model.received[0] == PROBE_MESSAGES  # the checks before the run, then the policy's prompts
    asked = [m for m in model.received if m not in (PROBE_MESSAGES, SCHEMA_PROBE_MESSAGES)]
    prompts = ["\n".join(str(m["content"]) for m in messages) for messages in asked]
    assert len(prompts) >= 12 * 8, "every step asked the policy"
    assert_private([*seen.builder_args, *told(seen.inputs), prompts], games, games_root)
    shown = {
        name
        for o in seen.inputs
        if isinstance(o, Observation)
        for text in (o.text, *o.admissible_commands)
        for name in OBJECT_ID.findall(text)
    }
    # What the world model imagined is shown too: names it drew from its priors ("apple 1").
    logs = "".join(f.read_text() for f in sorted((tmp_path / "run" / "steps").rglob("*.jsonl")))
    imagined = {
        name
        for line in logs.splitlines()
        for round_ in json.loads(line).get("decision", {}).get("details", {}).get("rounds", [])
        for name in OBJECT_ID.findall(json.dumps(round_.get("imagined", [])))
    }
    hidden: set[str] = set()
    env = AlfworldEnv(max_steps=1, privileged=True)
    for game in games:
        env.reset(game)
        assert FACT.search(json.dumps(env.true_facts(), default=str)), "the pattern catches true facts"
        hidden |= {o for held in env.true_contents().values() for o in held} - shown - imagined
    assert hidden, "the games hold objects the agent never saw nor imagined: the check below can fail"
    named = [set(OBJECT_ID.findall(prompt)) for prompt in prompts]
    examples = set.intersection(*named)  # the instructions' own examples ("apple 1(hot)"), in every prompt
    for names in named:
        leaked = (names - examples) & hidden
        assert not leaked, f"objects never shown reached a prompt: {leaked}"
