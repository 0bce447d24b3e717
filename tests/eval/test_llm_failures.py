"""LLM failures in a run, over real HTTP on the built games: a server stopped mid-run makes the
episodes it breaks errors (never fallbacks), `resume` plays them again, and 30 % faults change no
episode."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAIServer, FaultPlan
from implement.agents import Agent
from implement.agents.implement import ImplementAgent
from implement.agents.llm_policy import LLMPolicy
from implement.config import Config
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import read_walkthrough
from implement.eval.runner import evaluate, select_games
from implement.jsonl import read_jsonl
from implement.llm.base import ChatModel, Completion, Message, Usage, message_text
from implement.llm.openai_chat import OpenAIChatModel
from implement.world_model.symbolic import SymbolicWorldModel
from recording import prompt_bullets
from servers import free_port

pytestmark = pytest.mark.timeout(300)

GAMES, TRIALS, MAX_STEPS = 4, 2, 9
Played = dict[tuple[str, int], tuple[list[str], bool]]  # (game, trial) -> (actions, won)


class WalkthroughPolicy:
    """A chat model playing the LLM policy from its prompt alone, a function of the prompt (so any
    number of retries gets the same answer): legal policy JSON that follows the walkthrough of the
    games it knows by goal (it wins those) and takes the first listed command in the others.

    `stop_after(k, event)`: `event` is set when the k-th request arrives (to stop its server).
    """

    name = "policy"
    identity = "test:walkthrough-policy"
    schema_support = "unconstrained"

    def __init__(self, walkthroughs: dict[str, list[str]]) -> None:
        self.walkthroughs = walkthroughs
        self.usage = Usage()
        self.requests = 0
        self._stop: tuple[int, threading.Event] | None = None

    def stop_after(self, requests: int, event: threading.Event) -> None:
        self._stop = (self.requests + requests, event)

    async def chat(
        self, messages: list[Message], *, n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
        schema: dict[str, Any] | None = None, top_p: float = 1.0,
    ) -> list[Completion]:  # fmt: skip
        self.requests += 1
        if self._stop is not None and self.requests >= self._stop[0]:
            self._stop[1].set()
        return [Completion(self.answer(message_text(messages[-1])), finish_reason="stop")] * n

    def answer(self, prompt: str) -> str:
        goal = re.search(r"^Goal: (.*)$", prompt, re.MULTILINE)
        if goal is None:
            return "ready"  # the probe before the run
        admissible = prompt_bullets(prompt, "Admissible commands:")
        evaluated = [line.split(": ", 1)[0] for line in prompt_bullets(prompt, "Evaluated actions")]
        executed = len(re.findall(r"^\d+\. ", prompt, re.MULTILINE))
        walkthrough = self.walkthroughs.get(goal.group(1), [])
        target = walkthrough[executed] if executed < len(walkthrough) else None
        if "There is no world model" in prompt:
            return _choose(target if target in admissible else admissible[0])
        if target in evaluated or (evaluated and target not in admissible) or "last round" in prompt:
            return _choose(target if target in evaluated else evaluated[0])
        fresh = [c for c in admissible if c not in evaluated]
        proposals = [target] if target in fresh else fresh[:2]
        return json.dumps({"thought": "imagine first", "help": True, "action": None, "proposals": proposals})


def _choose(action: str) -> str:
    return json.dumps({"thought": "go on", "help": False, "action": action, "proposals": []})


@pytest.fixture(scope="module", autouse=True)
def translation_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMPLEMENT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "runner-translations"))
        yield


def make_config(data_root: Path, policy: str = "planner") -> Config:
    config = Config()
    config.environment.data_dir, config.environment.split = str(data_root), "tiny"
    config.environment.max_steps = MAX_STEPS
    config.evaluation.games, config.evaluation.trials, config.evaluation.parallel = GAMES, TRIALS, 2
    config.world_model.mc_samples = 2
    config.policy.model = policy
    config.llm.api_key = "k"
    return config


@pytest.fixture(scope="module")
def walkthroughs(data_root: Path) -> dict[str, list[str]]:
    """Goal -> walkthrough of every other game of the run: the policy wins those, and plays the
    others over both trials (so memory passes between trials)."""
    env = AlfworldEnv(max_steps=MAX_STEPS)
    found = {}
    for game in select_games(make_config(data_root))[::2]:
        task, _ = env.reset(game)
        found[task.goal] = read_walkthrough(game)
    return found


def implement_builder(chat_model: ChatModel) -> Callable[..., Callable[[], Agent]]:
    """The `implement` agent as its registered builder makes it, with an LLM policy on `chat_model`
    and the symbolic world model."""

    def build(config: Config, **_: Any) -> Callable[[], Agent]:
        world_model = SymbolicWorldModel.default()
        return lambda: ImplementAgent(
            LLMPolicy(
                chat_model, max_tokens=config.llm.max_tokens, max_proposals=config.policy.max_proposals
            ),
            world_model,
            mc_samples=config.world_model.mc_samples,
            max_rounds=config.policy.max_interaction_rounds,
            max_proposals=config.policy.max_proposals,
        )

    return build


def played(out: Path) -> Played:
    """What each episode did; every (game, trial) is recorded once."""
    episodes = read_jsonl(out / "episodes.jsonl")
    counts = Counter((e["game"], e["trial"]) for e in episodes)
    assert [pair for pair, n in counts.items() if n > 1] == [], "an episode was recorded twice"
    return {(e["game"], e["trial"]): (e["actions"], e["won"]) for e in episodes}


def decisions(out: Path) -> list[dict[str, Any]]:
    lines = [
        json.loads(line)
        for path in (out / "steps").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    return [line["decision"] for line in lines if "decision" in line]


@pytest.fixture(scope="module")
def clean(
    walkthroughs: dict[str, list[str]], data_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Played:
    """The run with no fault: wins and losses, over both trials."""
    out = tmp_path_factory.mktemp("clean") / "run"
    with FakeOpenAIServer(chat_model=WalkthroughPolicy(walkthroughs), model="policy").running() as url:
        model = OpenAIChatModel("policy", base_url=url, api_key="k", max_retries=0)
        summary = asyncio.run(evaluate(make_config(data_root), out, builder=implement_builder(model)))
    assert summary["errors"] == 0 and summary["complete"] is True
    result = played(out)
    wins = [won for _, won in result.values()]
    assert any(wins) and not all(wins) and {t for _, t in result} == {1, 2}
    return result


def run_until_the_server_stops(
    fake: FakeOpenAIServer, model: WalkthroughPolicy, port: int, config: Config, out: Path, *, after: int
) -> dict[str, Any]:
    """Evaluate with the registered agent (its model probed first) while `fake` serves on `port`;
    the server stops for good once `model` has had `after` requests."""
    stop, up = threading.Event(), threading.Event()
    model.stop_after(after, stop)

    def serve_until_stopped() -> None:
        with fake.running(port=port):
            up.set()
            stop.wait(120)

    server = threading.Thread(target=serve_until_stopped)
    server.start()
    try:
        assert up.wait(30)
        return asyncio.run(evaluate(config, out))
    finally:
        stop.set()
        server.join(30)


def served_config(data_root: Path, port: int) -> Config:
    config = make_config(data_root, policy=f"openai:policy@http://127.0.0.1:{port}/v1")
    config.llm.max_retries, config.llm.timeout = 1, 5.0
    return config


def test_a_server_stopped_mid_run_errs_those_episodes_and_resume_plays_them(
    walkthroughs: dict[str, list[str]], clean: Played, data_root: Path, tmp_path: Path
) -> None:
    model = WalkthroughPolicy(walkthroughs)
    fake, port = FakeOpenAIServer(chat_model=model, model="policy"), free_port()
    config, out = served_config(data_root, port), tmp_path / "run"
    first = run_until_the_server_stops(fake, model, port, config, out, after=25)

    episodes = read_jsonl(out / "episodes.jsonl")
    errored = [e for e in episodes if e["error"]]
    assert errored and len(errored) < len(episodes) and first["errors"] == len(errored)
    for e in errored:
        assert e["error"].startswith("RequestError: policy: request failed (after 2 attempts): connection")
        assert e["won"] is False and e["usage"]["failed_requests"] == 1
        assert (e["game"], e["trial"] + 1) not in played(out)  # its game waits for the resume
    assert all(d["details"]["fallback"] is None for d in decisions(out))  # no step played a fallback
    memories = {(m["game_id"], m["trial"]) for m in read_jsonl(out / "memory.jsonl")}
    assert memories == {(e["game"], e["trial"]) for e in episodes if not e["error"]}

    with fake.running(port=port):  # the same server again, on the same port
        summary = asyncio.run(evaluate(config, out, resume=True))
    assert summary["errors"] == 0 and summary["complete"] is True
    assert played(out) == clean  # every (game, trial) once, as if the server had never stopped
    assert summary["episodes"] == len(clean)


def test_resume_without_retrying_errors_keeps_them_as_losses(
    walkthroughs: dict[str, list[str]], data_root: Path, tmp_path: Path
) -> None:
    model = WalkthroughPolicy(walkthroughs)
    fake, port = FakeOpenAIServer(chat_model=model, model="policy"), free_port()
    config, out = served_config(data_root, port), tmp_path / "run"
    config.evaluation.trials = 1
    run_until_the_server_stops(fake, model, port, config, out, after=12)
    errored = {(e["game"], e["trial"]) for e in read_jsonl(out / "episodes.jsonl") if e["error"]}
    assert errored

    config.evaluation.trials, config.evaluation.retry_errors = 2, False
    with fake.running(port=port):
        kept = asyncio.run(evaluate(config, out, resume=True))
    assert kept["errors"] == len(errored) and kept["complete"] is True
    assert {(game, 2) for game, _ in errored} <= set(played(out))  # losses: their games went on

    config.evaluation.retry_errors = True
    with fake.running(port=port):
        retried = asyncio.run(evaluate(config, out, resume=True))
    assert retried["errors"] == 0 and retried["complete"] is True
    assert errored <= set(played(out)) and len(played(out)) == kept["episodes"]


def test_faults_at_30_percent_change_no_episode(
    walkthroughs: dict[str, list[str]], clean: Played, data_root: Path, tmp_path: Path
) -> None:
    faults = FaultPlan(rate=0.3, seed=7, hang_seconds=5.0)
    fake = FakeOpenAIServer(chat_model=WalkthroughPolicy(walkthroughs), model="policy", faults=faults)
    with fake.running() as url:
        model = OpenAIChatModel(
            "policy", base_url=url, api_key="k", timeout=0.5, max_retries=20, backoff=0.01, max_backoff=0.05
        )
        summary = asyncio.run(
            evaluate(make_config(data_root), tmp_path / "run", builder=implement_builder(model))
        )
    assert summary["errors"] == 0
    assert played(tmp_path / "run") == clean
    injected = sum(fake.stats.faults.values())
    assert injected >= 10 and {"429", "500", "hang", "malformed"} <= set(fake.stats.faults)
    assert model.usage.retries == injected and model.usage.failed_requests == 0
    assert all(d["details"]["fallback"] is None for d in decisions(tmp_path / "run"))
