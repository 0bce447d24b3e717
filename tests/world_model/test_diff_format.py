"""`world_model.format = "diff"`: compact diffs on real transitions, their errors, the LLM world
model reading them over real HTTP, and curate writing them."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import TINY_SPLIT
from fake_openai import FakeOpenAIServer
from implement.config import CollectConfig, Config, load_config
from implement.data.collect import collect, open_collection
from implement.data.curate import PERCEPTION_FILE, PREDICTION_FILE, curate
from implement.data.prepare import SAMPLES_FILE, prepare
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.errors import ConfigError
from implement.jsonl import read_jsonl
from implement.llm.scripted import Script
from implement.prompts.schemas import diff_schema
from implement.prompts.state_text import render_state
from implement.prompts.world_model import (
    DIFF_SYSTEM_TEXT,
    SYSTEM_TEXT,
    answer_message,
    perception_messages,
    prediction_messages,
)
from implement.state import (
    ReceptacleState,
    StateError,
    SymbolicState,
    apply_diff,
    diff_states,
    state_diff,
)
from implement.world_model.base import Perceived, closed_unvisited_target
from implement.world_model.evaluate import Transition, play_transitions
from implement.world_model.llm import LLMWorldModel
from implement.world_model.registry import make_world_model

pytestmark = pytest.mark.timeout(300)

Cli = Callable[..., subprocess.CompletedProcess[str]]

START = SymbolicState(
    agent_location="middle of room",
    inventory="nothing",
    world_state={"shelf 1": ReceptacleState(), "fridge 1": ReceptacleState(open=False)},
)


@pytest.fixture(scope="module")
def transitions(tiny_games: list[Game]) -> list[Transition]:
    """Every step of the built games' walkthroughs, with seeded detours, on the real engine."""
    env = AlfworldEnv(privileged=True, max_steps=200)
    return [t for game in tiny_games for t in play_transitions(env, game, seed=0)]


# -- the diff ----------------------------------------------------------------------------------------


def test_a_diff_applied_gives_back_the_next_state_of_every_transition(transitions: list[Transition]) -> None:
    changed = 0
    for t in transitions:
        diff = json.loads(json.dumps(state_diff(t.before, t.after)))  # as a model writes it
        assert apply_diff(t.before, diff) == t.after, (t.game_id, t.action, diff)
        assert apply_diff(t.before, diff).to_dict() == t.after.to_dict()
        # only what changed: every receptacle diff_states reports, and nothing unchanged
        assert set(diff_states(t.before, t.after).get("world_state", {})) <= set(diff.get("world_state", {}))
        for name in diff.get("world_state", {}):
            assert t.before.world_state.get(name) != t.after.world_state[name]
        assert ("agent_location" in diff) == (t.before.agent_location != t.after.agent_location)
        assert ("inventory" in diff) == (t.before.inventory != t.after.inventory)
        jsonschema.validate(diff, diff_schema(list(t.before.world_state)))  # the schema allows it
        changed += diff != {}
    assert len(transitions) > 20 and 0 < changed < len(transitions)  # failures and looks change nothing
    assert state_diff(transitions[0].before, transitions[0].before) == {}


def test_a_diff_may_add_a_newly_seen_receptacle_and_list_only_some_fields() -> None:
    seen = apply_diff(START, {"world_state": {"drawer 9": {"visited": True, "objects": ["pen 1"]}}})
    assert seen.world_state["drawer 9"] == ReceptacleState(True, False, ("pen 1",))  # openable: closed
    assert list(seen.world_state) == ["shelf 1", "fridge 1", "drawer 9"]
    opened = apply_diff(START, {"agent_location": "fridge 1", "world_state": {"fridge 1": {"open": True}}})
    assert opened.world_state["fridge 1"] == ReceptacleState(False, True, ())
    assert (opened.agent_location, opened.inventory) == ("fridge 1", "nothing")
    assert apply_diff(START, {}) == START


@pytest.mark.parametrize(
    ("diff", "message"),
    [
        (["agent_location"], "expected a diff object, got list"),
        ({"location": "shelf 1"}, r"diff has unknown keys \['location'\]"),
        ({"inventory": None}, "diff inventory: expected a string, got None"),
        ({"world_state": ["shelf 1"]}, "diff world_state: expected an object, got list"),
        ({"world_state": {"shelf 1": "visited"}}, r"diff world_state\['shelf 1'\]: expected an object"),
        ({"world_state": {"fridge 1": {"closed": True}}}, r"unknown keys \['closed'\]"),
        ({"world_state": {"fridge 1": {"open": "yes"}}}, "open: expected true, false or 'N/A'"),
        ({"world_state": {"shelf 1": {"objects": "mug 1"}}}, "objects: expected a list of names"),
        ({"world_state": {"shelf 1": {"visited": 1}}}, "visited: expected true/false"),
    ],
)
def test_a_bad_diff_is_a_clear_error(diff: Any, message: str) -> None:
    with pytest.raises(StateError, match=message):
        apply_diff(START, diff)


def test_a_diff_cannot_remove_a_receptacle() -> None:
    with pytest.raises(StateError, match=r"cannot remove receptacles, but \['fridge 1'\]"):
        state_diff(START, SymbolicState(world_state={"shelf 1": ReceptacleState()}))


# -- prompts and configuration -----------------------------------------------------------------------


def test_diff_prompts_ask_for_the_changes_under_a_shorter_system_text() -> None:
    messages = prediction_messages(START, "go to fridge 1", imagine_opened="fridge 1", format="diff")
    assert messages[0]["content"] == DIFF_SYSTEM_TEXT and len(DIFF_SYSTEM_TEXT) < 0.8 * len(SYSTEM_TEXT)
    text = messages[1]["content"]
    assert isinstance(text, str) and text.startswith("[PRE]\n") and text.endswith("\nChanges:")
    assert f"Current state:\n{render_state(START)}\nAction: go to fridge 1\n" in text  # state first
    assert "fridge 1 is closed" in text
    per = perception_messages(START, "look", "You are in the middle.", succeeded=True, format="diff")
    assert per[0]["content"] == DIFF_SYSTEM_TEXT and str(per[1]["content"]).endswith("\nChanges:")
    assert prediction_messages(START, "look")[0]["content"] == SYSTEM_TEXT  # `state` is unchanged
    after = apply_diff(START, {"agent_location": "shelf 1"})
    assert json.loads(answer_message(after, diff_from=START)["content"]) == {"agent_location": "shelf 1"}


def test_the_reference_dialect_has_no_diff_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the reference dialect has no diff format"):
        prediction_messages(START, "look", dialect="reference", format="diff")
    with pytest.raises(ConfigError, match="unknown world-model format 'delta'"):
        prediction_messages(START, "look", format="delta")
    config = tmp_path / "wm.toml"
    config.write_text('[world_model]\ndialect = "reference"\nformat = "diff"\n')
    with pytest.raises(ConfigError, match="the reference dialect has no diff format"):
        make_world_model("openai:m@http://127.0.0.1:9/v1", load_config(config))


# -- the LLM world model over real HTTP --------------------------------------------------------------


def truth_script(transitions: list[Transition]) -> Script:
    """A model that answers each prompt of these transitions with the true diff (found from the
    action and the state the prompt shows); anything else gets an answer holding no diff."""
    rules = []
    for t in transitions:
        answer = json.dumps(state_diff(t.before, t.after))
        action, before = re.escape(t.action), re.escape(render_state(t.before))
        rules.append({"match": f"\nCurrent state:\n{before}\nAction: {action}\n", "responses": [answer]})
        per = f"\nAction: {action}\nSucceeded: (yes|no)\nState before the action:\n{before}\n"
        rules.append({"match": per, "responses": [answer]})
    return Script.from_dict({"rules": rules, "default": "The fridge opens. {not json"})


@pytest.fixture
def truth_server(transitions: list[Transition]) -> Iterator[str]:
    with FakeOpenAIServer(truth_script(transitions)).running() as url:
        yield url


def diff_model(url: str, tmp_path: Path) -> LLMWorldModel:
    """The LLM world model `world_model.format = "diff"` in a config file makes."""
    config = tmp_path / "wm.toml"
    config.write_text('[world_model]\nformat = "diff"\n[llm]\napi_key = "sk-test"\nmax_retries = 0\n')
    model = make_world_model(f"openai:fake-model@{url}", load_config(config))
    assert isinstance(model, LLMWorldModel) and model.format == "diff"
    return model


def test_the_llm_world_model_applies_diff_answers_to_the_given_state(
    truth_server: str, transitions: list[Transition], tmp_path: Path
) -> None:
    model = diff_model(truth_server, tmp_path)
    for t in transitions:
        samples = 3 if t.information_gathering else 1
        predicted = asyncio.run(model.predict(t.before, t.action, None, n=samples))
        assert predicted == [t.after] * samples, (t.game_id, t.action)
        perceived = asyncio.run(model.perceive(t.before, Perceived(t.action, "", succeeded=t.succeeded)))
        assert perceived == t.after
    assert model.stats.dropped_samples == model.stats.fallbacks == model.stats.parse_failures == 0
    before = model.stats.samples
    assert asyncio.run(model.predict(START, "go to shelf 1", None, n=2)) == []  # no rule: no diff
    assert model.stats.dropped_samples == 2 and model.stats.empty_predictions == 1
    assert model.stats.samples == before + 2


def test_an_invalid_diff_is_dropped_and_counted(tmp_path: Path) -> None:
    good = json.dumps({"agent_location": "shelf 1", "world_state": {"shelf 1": {"visited": True}}})
    bad = json.dumps({"agent_location": "shelf 1", "world_state": {"shelf 1": {"visited": "yes"}}})
    rule = {"match": r"^\[PRE\]", "responses": [bad, good, "nothing changes"]}
    script = Script.from_dict({"rules": [rule]})
    with FakeOpenAIServer(script).running() as url:
        model = diff_model(url, tmp_path)
        predicted = asyncio.run(model.predict(START, "go to shelf 1", None, n=3))
    shelf = apply_diff(START, json.loads(good))
    assert predicted == [shelf]
    assert model.stats.dropped_samples == 2 and model.stats.empty_predictions == 0


# -- curate ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    collected, out = tmp_path_factory.mktemp("collected"), tmp_path_factory.mktemp("prepared")
    config = Config(collect=CollectConfig(split=TINY_SPLIT, batch_size=3, max_steps=15))
    config.environment.data_dir = str(data_root)
    collect(config, collected, open_collection(config, collected, resume=False))
    prepare([collected], out, seed=1)
    return out


def test_curate_in_the_diff_format_writes_diff_answers(prepared: Path, tmp_path: Path) -> None:
    report = curate([prepared / SAMPLES_FILE], tmp_path, format="diff")
    samples = read_jsonl(prepared / SAMPLES_FILE)
    assert report.perception == report.prediction == len(samples) > 0
    perception, prediction = read_jsonl(tmp_path / PERCEPTION_FILE), read_jsonl(tmp_path / PREDICTION_FILE)
    for sample, per, pre in zip(samples, perception, prediction, strict=True):
        before, after = (SymbolicState.from_dict(sample[key]) for key in ("state_before", "state_after"))
        assert per["messages"][0]["content"] == pre["messages"][0]["content"] == DIFF_SYSTEM_TEXT
        assert apply_diff(before, json.loads(per["messages"][-1]["content"])) == after
        imagined = apply_diff(before, json.loads(pre["messages"][-1]["content"]))
        closed = closed_unvisited_target(before, sample["action"])
        if closed is None:  # else the target also lists what opening it would show
            assert imagined == after
        assert imagined.agent_location == after.agent_location and imagined.inventory == after.inventory
    with pytest.raises(ConfigError, match="the reference dialect has no diff format"):
        curate([prepared / SAMPLES_FILE], tmp_path / "ref", dialect="reference", format="diff")


def test_curate_cli_takes_the_format(cli: Cli, prepared: Path, tmp_path: Path) -> None:
    samples, out = prepared / SAMPLES_FILE, tmp_path / "curated"
    result = cli("curate", "--input", str(samples), "--out", str(out), "--format", "diff", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "diff"
    first = read_jsonl(out / PERCEPTION_FILE)[0]["messages"]
    assert first[0]["content"] == DIFF_SYSTEM_TEXT
    assert json.loads(first[-1]["content"]).keys() <= {"agent_location", "inventory", "world_state"}
    refused = cli(
        "curate", "--input", str(samples), "--out", str(out), "--format", "diff", "--dialect", "reference"
    )
    assert refused.returncode != 0 and "the reference dialect has no diff format" in refused.stderr
