"""`implement serve` over real HTTP on a free loopback port: every endpoint, auth, limits, and
`evaluate --api-url` against the in-process agent."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import TINY_SPLIT
from fake_openai import FakeOpenAIServer
from implement.config import Config
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.errors import ConfigError
from implement.eval.runner import evaluate
from implement.jsonl import read_jsonl
from implement.llm.base import Message
from implement.llm.scripted import Script, last_user_text
from implement.serve.app import create_app
from implement.state import SymbolicState
from implement.world_model.perception import initial_state, update_state
from implement.world_model.symbolic import SymbolicWorldModel
from servers import free_port, serving, wait_for_http

TOKEN = "test-token-7"
SCRIPTED_POLICY = Path(__file__).resolve().parents[2] / "examples" / "scripted_policy.json"


def _config(**api: Any) -> Config:
    config = Config()
    config.world_model.mc_samples = 4
    for key, value in api.items():
        setattr(config.api, key, value)
    return config


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(create_app(_config(max_batch=4, max_body_bytes=200_000))) as url:
        yield url


@pytest.fixture(scope="module")
def game_start(tiny_games: list[Game]) -> tuple[str, str, str, list[str]]:
    """(goal, task type, intro, admissible commands) of a built game."""
    env = AlfworldEnv(max_steps=10)
    task, observation = env.reset(tiny_games[0])
    return task.goal, task.task_type, observation.text, list(observation.admissible_commands)


def _policy_body(game_start: tuple[str, str, str, list[str]], n: int = 1) -> dict[str, Any]:
    goal, task_type, intro, admissible = game_start
    return {
        "current_goals": [goal] * n,
        "current_states": [initial_state(intro).to_dict()] * n,
        "histories": [[]] * n,
        "current_tasks": [task_type] * n,
        "admissible_commands": [admissible] * n,
        "conditions_1": [{}] * n,
        "conditions_2": [[]] * n,
    }


def test_health_names_what_is_served(server: str) -> None:
    for method in ("GET", "POST"):
        health = httpx.request(method, f"{server}/health").json()
        assert health["status"] == "healthy" and health["agent"] == "implement"
        assert (health["policy"], health["world_model"]) == ("planner", "symbolic")
        assert health["metaicl"] and health["imagination"] and health["max_batch"] == 4
        assert "implement" in health["versions"]
    docs = httpx.get(f"{server}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {"/health", "/generate_policy", "/perception", "/predict"} <= set(paths)


def test_generate_policy_decides_one_action_per_environment(server: str, game_start: Any) -> None:
    answer = httpx.post(f"{server}/generate_policy", json=_policy_body(game_start, n=3), timeout=60).json()
    admissible = game_start[3]
    assert len(answer["actions"]) == 3 and all(a in admissible for a in answer["actions"])
    assert len(set(answer["actions"])) == 1  # the same situation three times: the same decision
    rounds = answer["decisions"][0]["details"]["rounds"]
    assert rounds and "imagined" in rounds[0]  # the policy's proposals were imagined before the choice


def test_perception_and_prediction(server: str, game_start: Any) -> None:
    _, _, intro, _ = game_start
    state = initial_state(intro)
    receptacle = next(iter(state.world_state))
    env_text = f"You arrive at {receptacle}. On the {receptacle}, you see nothing."
    sample = {"action": f"go to {receptacle}", "action_success": True, "old_state": state.to_dict(),
              "observation": env_text}  # fmt: skip
    (perceived,) = httpx.post(f"{server}/perception", json={"samples": [sample]}).json()["states"]
    assert perceived == update_state(state, f"go to {receptacle}", env_text).to_dict()

    body = {"samples": [{"state": state.to_dict(), "action": f"go to {receptacle}"}], "n": 5}
    (predictions,) = httpx.post(f"{server}/predict", json=body).json()["predictions"]
    assert len(predictions) == 5  # going somewhere never seen: Monte Carlo samples
    assert all(p["agent_location"] == receptacle for p in predictions)

    framed = {**sample, "frame": "aGVsbG8="}
    refused = httpx.post(f"{server}/perception", json={"samples": [framed]})
    assert refused.status_code == 422 and "frames" in refused.json()["detail"]


def test_perception_believes_the_client_that_an_action_failed(server: str, game_start: Any) -> None:
    """`action_success: false` wins over the text: the symbolic world model changes nothing."""
    state = initial_state(game_start[2])
    receptacle = next(iter(state.world_state))
    env_text = f"You arrive at {receptacle}. On the {receptacle}, you see nothing."
    sample = {"action": f"go to {receptacle}", "action_success": False, "old_state": state.to_dict(),
              "observation": env_text}  # fmt: skip
    (perceived,) = httpx.post(f"{server}/perception", json={"samples": [sample]}).json()["states"]
    assert perceived == state.to_dict() != update_state(state, f"go to {receptacle}", env_text).to_dict()


@dataclass
class _Listening(Script):
    """A script that keeps the last user text of every conversation it answers."""

    heard: list[str] = field(default_factory=list)

    def respond(self, messages: list[Message], sample: int = 0) -> str:
        self.heard.append(last_user_text(messages))
        return super().respond(messages, sample)


def test_a_frame_only_perception_tells_the_llm_world_model_whether_the_action_failed(
    game_start: Any,
) -> None:
    state = initial_state(game_start[2])
    receptacle = next(iter(state.world_state))
    script = _Listening(default=state.to_json())
    with FakeOpenAIServer(script).running() as llm_url:
        config = _config()
        config.world_model.model = f"openai:fake-model@{llm_url}"
        config.llm.api_key, config.llm.max_retries = "sk-test", 0
        with serving(create_app(config)) as url:
            for success in (False, True):
                sample = {"action": f"go to {receptacle}", "action_success": success,
                          "old_state": state.to_dict(), "frame": "aGVsbG8="}  # fmt: skip
                answer = httpx.post(f"{url}/perception", json={"samples": [sample]}, timeout=30)
                assert answer.status_code == 200, answer.text
                assert SymbolicState.from_dict(answer.json()["states"][0]) == state
    failed, succeeded = [text for text in script.heard if "[PER]" in text]  # the probes left out
    assert "Succeeded: no" in failed and "Succeeded: yes" in succeeded
    assert "attached image" in failed and f"Action: go to {receptacle}" in failed


def test_one_world_model_serves_every_policy_spec(game_start: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agents' builder gets the server's world model: one load per app, whatever the requests."""
    built: list[SymbolicWorldModel] = []
    packaged = SymbolicWorldModel.default

    def counted() -> SymbolicWorldModel:
        built.append(packaged())
        return built[-1]

    monkeypatch.setattr(SymbolicWorldModel, "default", staticmethod(counted))
    with serving(create_app(_config())) as url:
        for model in (None, f"scripted:{SCRIPTED_POLICY}"):
            body = {**_policy_body(game_start), "model": model}
            assert httpx.post(f"{url}/generate_policy", json=body, timeout=60).status_code == 200
    assert len(built) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.pop("current_goals"), "current_goals"),
        (lambda b: b.update(current_tasks=[]), "one entry per environment"),
        (lambda b: b.update(current_states=[{"agent_location": "x", "inventory": "y",
                                             "world_state": {"a": {"visited": True}}}]), "missing keys"),
        (lambda b: b.update(histories=[[{"action": 3}]]), "action"),
        (lambda b: b.update(surprise=True), "surprise"),
        (lambda b: b.update(model="nope:x"), "unknown model spec"),
    ],
)  # fmt: skip
def test_malformed_payloads_are_422_with_a_useful_message(
    server: str, game_start: Any, change: Any, expected: str
) -> None:
    body = _policy_body(game_start)
    change(body)
    answer = httpx.post(f"{server}/generate_policy", json=body)
    assert answer.status_code == 422
    assert expected in answer.text
    not_json = httpx.post(f"{server}/predict", content=b"{oops", headers={"content-type": "application/json"})
    assert not_json.status_code == 422


def test_batches_and_bodies_over_the_limits_are_413(server: str, game_start: Any) -> None:
    too_many = httpx.post(f"{server}/generate_policy", json=_policy_body(game_start, n=5))
    assert too_many.status_code == 413 and "limit of 4" in too_many.json()["detail"]
    huge = {"samples": [{"state": initial_state(game_start[2]).to_dict(), "action": "look" * 60_000}]}
    too_big = httpx.post(f"{server}/predict", json=huge)
    assert too_big.status_code == 413 and "over the limit" in too_big.json()["detail"]
    body = json.dumps(huge).encode()
    chunks = (body[i : i + 10_000] for i in range(0, len(body), 10_000))  # chunked: no Content-Length
    streamed = httpx.post(f"{server}/predict", content=chunks, headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "over the limit" in streamed.json()["detail"]


def test_a_token_guards_every_endpoint_but_health(game_start: Any) -> None:
    with serving(create_app(_config(token=TOKEN))) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        body = _policy_body(game_start)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = httpx.post(f"{url}/generate_policy", json=body, headers=headers)
            assert answer.status_code == 401, headers
            assert TOKEN not in answer.text
        for path, payload in (("/perception", {"samples": []}), ("/predict", {"samples": []})):
            assert httpx.post(f"{url}{path}", json=payload).status_code == 401
        good = httpx.post(
            f"{url}/generate_policy", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        assert good.status_code == 200


def test_only_agents_that_decide_from_a_state_are_served() -> None:
    config = _config()
    config.evaluation.agent = "random"
    with pytest.raises(ConfigError, match="serves the agents implement, vanilla"):
        create_app(config)


def _run_config(data_root: Path, **evaluation: Any) -> Config:
    config = Config()
    config.environment.split = TINY_SPLIT
    config.environment.data_dir = str(data_root)
    config.environment.max_steps = 15
    config.world_model.mc_samples = 4
    for key, value in {"trials": 2, "parallel": 2, "replay_solved": True, **evaluation}.items():
        setattr(config.evaluation, key, value)
    return config


def _played(run: Path) -> dict[tuple[str, int], tuple[bool, list[str]]]:
    return {(e["game"], e["trial"]): (e["won"], e["actions"]) for e in read_jsonl(run / "episodes.jsonl")}


def test_evaluate_through_the_api_plays_what_the_agent_plays_in_process(
    data_root: Path, tmp_path: Path
) -> None:
    asyncio.run(evaluate(_run_config(data_root), tmp_path / "local"))
    with serving(create_app(_config(token=TOKEN))) as url:
        remote = _run_config(data_root, api_url=url)
        remote.api.token = TOKEN
        asyncio.run(evaluate(remote, tmp_path / "remote"))
        mismatched = _run_config(data_root, api_url=url)
        mismatched.api.token = TOKEN
        mismatched.policy.imagination = False
        with pytest.raises(ConfigError, match="imagination: server True, run False"):
            asyncio.run(evaluate(mismatched, tmp_path / "mismatched"))
    local, served = _played(tmp_path / "local"), _played(tmp_path / "remote")
    assert served == local and len(local) == 12
    memories = [
        {m["game_id"]: m["data"] for m in read_jsonl(tmp_path / r / "memory.jsonl")}
        for r in ("local", "remote")
    ]
    assert memories[0] == memories[1]  # the same MetaICL conditions carried across trials


def test_serve_command_and_the_seed_evaluate_script_through_it(
    cli: Any, data_root: Path, shared_cache: Path, tmp_path: Path
) -> None:
    """`implement serve` as a user starts it, and the seed's evaluate.py with --api_url against it."""
    refused = cli("serve", "--agent", "random")
    assert refused.returncode == 1 and "serves the agents implement, vanilla" in refused.stderr
    port = free_port()
    env = {**os.environ, "IMPLEMENT_CACHE_DIR": str(shared_cache), "IMPLEMENT_API__TOKEN": TOKEN}
    server = subprocess.Popen([sys.executable, "-m", "implement.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", timeout=60, alive=lambda: server.poll() is None)
        assert httpx.post(f"{url}/predict", json={"samples": []}).status_code == 401
        script = Path(__file__).parents[2] / "scripts" / "evaluate.py"
        result = subprocess.run(
            [sys.executable, str(script), "--alfworld_root", str(data_root), "--api_url", url, "--output_dir",
             str(tmp_path / "results"), "--split", TINY_SPLIT, "--games", "2", "--trials", "1"],
            env={**env, "ALFWORLD_DATA": str(data_root)}, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    finally:
        server.terminate()
        server.wait(30)
    episodes = read_jsonl(tmp_path / "results" / "episodes.jsonl")
    assert len(episodes) == 2 and all(e["error"] is None for e in episodes)
