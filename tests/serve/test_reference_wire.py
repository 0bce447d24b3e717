"""`implement serve` answers the reference server's bodies (the paper's `implement/api/server.py`) in
its shapes, over real HTTP: field names and value types as its client (`scripts/evaluate.py`) posts."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_openai import FakeOpenAIServer
from implement.config import Config
from implement.envs.admissible import derive_admissible_commands
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.llm.scripted import Script
from implement.serve.app import create_app
from implement.serve.reference import NEITHER_FORM, ReferencePolicyRequest, parse_history_line
from implement.state import SymbolicState
from implement.world_model.dialect import from_reference, reference_text, to_reference
from implement.world_model.perception import initial_state, update_state
from implement.world_model.symbolic import SymbolicWorldModel
from servers import serving

FRAME = "aGVsbG8="  # base64, as the reference's client sends its PNG frames


def _config() -> Config:
    config = Config()
    config.world_model.mc_samples = 4
    config.api.max_batch = 4
    return config


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(create_app(_config())) as url:
        yield url


@pytest.fixture(scope="module")
def game(tiny_games: list[Game]) -> Game:
    return next(g for g in tiny_games if g.task_type == "pick_and_place_simple")


def _history_line(number: int, action: str, succeeded: bool) -> str:
    """A line as the reference's client writes it."""
    return (
        f"{number}. You successfully {action}."
        if succeeded
        else f"{number}. You attempt to {action} but fail."
    )


def _policy_body(goal: str, task: str, state: Any, history: list[str], **changes: Any) -> dict[str, Any]:
    body = {
        "current_goals": [goal], "current_states": [state], "histories": [history], "current_tasks": [task],
        "model": "planner", "conditions_1": [[]], "conditions_2": [[]],
    }  # fmt: skip
    return {**body, **changes}


def test_post_health_answers_healthy_with_what_is_served(server: str) -> None:
    health = httpx.post(f"{server}/health").json()
    assert health["status"] == "healthy"
    assert (health["agent"], health["policy"], health["world_model"]) == ("implement", "planner", "symbolic")


def test_the_planner_plays_a_game_to_the_end_through_reference_requests(server: str, game: Game) -> None:
    """Every step: a reference body (no admissible commands) -> a bare list with one legal action."""
    env = AlfworldEnv(max_steps=20)
    task, observation = env.reset(game)
    state, history = initial_state(observation.text), []
    task_path = str(game.path.parent.parent)  # a task folder, as the reference's client names tasks
    while not observation.done:
        body = _policy_body(task.goal, task_path, to_reference(state), history)
        answer = httpx.post(f"{server}/generate_policy", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        actions = answer.json()
        assert isinstance(actions, list) and len(actions) == 1 and isinstance(actions[0], str)
        assert actions[0] in observation.admissible_commands
        observation = env.step(actions[0])
        state = update_state(state, actions[0], observation.text)
        history.append(_history_line(len(history) + 1, actions[0], observation.succeeded))
    assert observation.won


def test_a_state_as_python_literal_text_and_a_batch_with_conditions(server: str, game: Game) -> None:
    env = AlfworldEnv(max_steps=5)
    task, observation = env.reset(game)
    state = initial_state(observation.text)
    receptacle = next(iter(state.world_state))
    failed = [f"open {receptacle}", receptacle, None, to_reference(state)["world_state"][receptacle]]
    body = _policy_body(
        task.goal, task.task_type, reference_text(state), [_history_line(1, f"open {receptacle}", False)],
        conditions_1=[[[receptacle, ["book"]]]], conditions_2=[[failed]],
    )  # fmt: skip
    twice = {key: value * 2 for key, value in body.items() if key != "model"} | {"model": None}
    actions = httpx.post(f"{server}/generate_policy", json=twice, timeout=60).json()
    assert len(actions) == 2 and all(a in observation.admissible_commands for a in actions)


def test_a_reference_request_is_todays_with_the_states_admissible_commands(game: Game) -> None:
    env = AlfworldEnv(max_steps=5)
    task, observation = env.reset(game)
    state = initial_state(observation.text)
    receptacle = next(iter(state.world_state))
    path = f"/data/json_2.1.1/valid_unseen/{game.path.parent.parent.name}/trial_T1/"
    body = _policy_body(
        task.goal, path, to_reference(state),
        [_history_line(1, "look", True), _history_line(2, f"open {receptacle}", False)],
        conditions_1=[[[receptacle, ["book", "pen"]]]],
        conditions_2=[[[f"open {receptacle}", "middle of the room", None, {}]]],
    )  # fmt: skip
    counts = SymbolicWorldModel.default().counts
    standard = ReferencePolicyRequest.model_validate(body).standard(counts)
    assert standard.current_states[0].symbolic() == state
    assert standard.current_tasks == [game.task_type]
    assert [(h.action, h.succeeded) for h in standard.histories[0]] == [
        ("look", True),
        (f"open {receptacle}", False),
    ]
    assert standard.admissible_commands == [list(derive_admissible_commands(state, counts))]
    assert sorted(standard.admissible_commands[0]) == sorted(observation.admissible_commands)
    conditions = standard.conditions(0)
    assert conditions.object_lists == {receptacle: ["book", "pen"]}
    (failure,) = conditions.failed_actions
    assert (failure.agent_location, failure.inventory, failure.target_state) == (
        "middle of room",
        "nothing",
        None,
    )


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("1. You successfully go to drawer 1.", ("go to drawer 1", True)),
        ("12. You attempt to take pen 1 from desk 1 but fail.", ("take pen 1 from desk 1", False)),
        ("3. You attempt to  but fail.", ("", False)),  # an action the reference could not read: ""
    ],
)
def test_history_lines_read_as_steps(line: str, step: tuple[str, bool]) -> None:
    assert parse_history_line(line) == step


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.update(histories=[["went to drawer 1"]]), "You successfully X."),
        (lambda b: b.update(histories=[[{"action": "look", "succeeded": True}]]), NEITHER_FORM[:40]),
        (lambda b: b.update(admissible_commands=[["look"]]), NEITHER_FORM[:40]),
        (lambda b: b.pop("model"), "model"),
        (lambda b: b.update(current_tasks=["task-1"], current_goals=["do a dance"]), "names no task type"),
        (lambda b: b.update(current_states=["{'agent_location': 'x'}"]), "current_states[0]"),
        (lambda b: b.update(conditions_2=[[["look", None]]]), "conditions_2"),
        (lambda b: b.update(conditions_1=[[], []]), "one entry per environment"),
    ],
)  # fmt: skip
def test_bad_reference_bodies_are_422_saying_what_is_wrong(
    server: str, game: Game, change: Any, expected: str
) -> None:
    env = AlfworldEnv(max_steps=5)
    task, observation = env.reset(game)
    body = _policy_body(task.goal, task.task_type, to_reference(initial_state(observation.text)),
                        [_history_line(1, "look", True)])  # fmt: skip
    change(body)
    answer = httpx.post(f"{server}/generate_policy", json=body)
    assert answer.status_code == 422, answer.text
    assert expected in answer.text


def _perception_sample(state: SymbolicState, action: str, success: bool) -> dict[str, Any]:
    return {"action": action, "action_success": success, "old_state": to_reference(state), "new_frame": FRAME,
            "other_visible_receptacles": []}  # fmt: skip


def test_perception_answers_the_states_as_the_references_model_writes_them(game: Game) -> None:
    env = AlfworldEnv(max_steps=5)
    _, observation = env.reset(game)
    state = initial_state(observation.text)
    receptacle = next(iter(state.world_state))
    seen = f"You arrive at {receptacle}. On the {receptacle}, you see nothing."
    arrived = update_state(state, f"go to {receptacle}", seen)
    script = Script.from_dict({"rules": [{"match": "Succeeded: no", "responses": [state.to_json()]}],
                               "default": arrived.to_json()})  # fmt: skip
    with FakeOpenAIServer(script).running() as llm_url:
        config = _config()
        config.world_model.model = f"openai:fake-model@{llm_url}"
        config.llm.api_key, config.llm.max_retries = "sk-test", 0
        with serving(create_app(config)) as url:
            samples = [_perception_sample(state, f"go to {receptacle}", True),
                       _perception_sample(state, f"go to {receptacle}", False)]  # fmt: skip
            answer = httpx.post(f"{url}/perception", json={"samples": samples}, timeout=30)
    assert answer.status_code == 200, answer.text
    moved, unchanged = answer.json()
    assert isinstance(moved, str) and from_reference(moved) == arrived
    assert from_reference(unchanged) == state  # the model was told the action failed
    as_the_reference_reads_it = ast.literal_eval(moved.replace("'", '"'))  # its client: eval of that
    assert as_the_reference_reads_it == to_reference(arrived)


def test_perception_bodies_of_neither_form_and_frames_the_symbolic_model_cannot_read(
    server: str, game: Game
) -> None:
    env = AlfworldEnv(max_steps=5)
    _, observation = env.reset(game)
    sample = _perception_sample(initial_state(observation.text), "look", True)
    mixed = httpx.post(f"{server}/perception", json={"samples": [{**sample, "observation": "You see."}]})
    assert mixed.status_code == 422 and NEITHER_FORM[:40] in mixed.text
    frame_only = httpx.post(f"{server}/perception", json={"samples": [sample]})
    assert frame_only.status_code == 422 and "frames" in frame_only.json()["detail"]
