"""The LLM world model speaking the reference's dialect: its prompt layout, over real HTTP, and
`implement wm eval` on a test server answering as a reference checkpoint does."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fake_openai import FakeOpenAIServer
from implement.config import LLMConfig
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.llm import make_chat_model
from implement.llm.base import Message
from implement.llm.scripted import Script
from implement.metaicl import Conditions, FailedAction
from implement.prompts.world_model import (
    PER_TAG,
    PRE_TAG,
    REFERENCE_SYSTEM_TEXT,
    answer_message,
    perception_messages,
    prediction_messages,
)
from implement.state import ReceptacleState, SymbolicState
from implement.world_model.base import Perceived
from implement.world_model.dialect import reference_text, to_reference
from implement.world_model.evaluate import play_transitions
from implement.world_model.llm import LLMWorldModel

pytestmark = pytest.mark.timeout(300)

Cli = Callable[..., subprocess.CompletedProcess[str]]

START = SymbolicState(
    agent_location="middle of room",
    inventory="nothing",
    world_state={
        "countertop 1": ReceptacleState(False, "N/A", ()),
        "shelf 1": ReceptacleState(),
        "fridge 1": ReceptacleState(open=False),
    },
)
AT_SHELF = SymbolicState(
    agent_location="shelf 1",
    inventory="nothing",
    world_state={**START.world_state, "shelf 1": ReceptacleState(True, "N/A", ("mug 1",))},
)
CONDITIONS = Conditions(
    object_lists={"shelf 1": ["mug", "vase"], "fridge 1": ["egg"]},
    failed_actions=[
        FailedAction(
            "open shelf 1", "middle of room", "nothing", {"visited": False, "open": "N/A", "objects": []}
        )
    ],
)


def text_of(messages: list[Message]) -> str:
    content = messages[-1]["content"]
    assert isinstance(content, str)
    return content


def last_line_value(text: str, head: str) -> object:
    """The Python literal on the line after `head`."""
    lines = text.splitlines()
    return ast.literal_eval(lines[lines.index(head) + 1])


# -- prompts -----------------------------------------------------------------------------------------


def test_perception_prompt_in_the_reference_layout() -> None:
    arrive = "You arrive at shelf 1. On the shelf 1, you see a mug 1."
    messages = perception_messages(
        START, "go to shelf 1", arrive, succeeded=True, visible=["countertop 1"], dialect="reference"
    )
    assert messages[0] == {"role": "system", "content": REFERENCE_SYSTEM_TEXT}
    text = text_of(messages)
    assert text.splitlines()[0] == PER_TAG
    fields = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in text.splitlines() if ": " in line}
    assert fields["action"] == "go to shelf 1" and fields["action_success"] == "True"
    assert fields["old_state"] == reference_text(START)
    assert ast.literal_eval(fields["old_state"])["inventory"] is None
    assert fields["other_visible_receptacles"] == "['countertop 1']"
    assert fields["observation"] == arrive
    assert "true" not in text and '"nothing"' not in text  # no JSON words, no "nothing" hands


def test_prediction_prompt_ends_with_the_conditions_as_python_reprs() -> None:
    messages = prediction_messages(AT_SHELF, "go to countertop 1", CONDITIONS, dialect="reference")
    text = text_of(messages)
    assert text.splitlines()[0] == PRE_TAG
    assert f"old_state: {reference_text(AT_SHELF)}" in text.splitlines()
    lines = text.splitlines()
    condition_1, condition_2 = ast.literal_eval(lines[-4]), ast.literal_eval(lines[-1])
    assert condition_1 == [["shelf 1", ["mug", "vase"]], ["fridge 1", ["egg"]]]
    failed = {"visited": False, "open": "N/A", "objects": []}
    assert condition_2 == [["open shelf 1", "middle of the room", None, failed]]
    empty = text_of(prediction_messages(AT_SHELF, "go to countertop 1", None, dialect="reference"))
    assert empty.splitlines()[-1] == "[]" and empty.splitlines()[-4] == "[]"
    assert answer_message(AT_SHELF, dialect="reference")["content"] == reference_text(AT_SHELF)
    with pytest.raises(ValueError, match="unknown world-model dialect"):
        prediction_messages(AT_SHELF, "look", dialect="paper")


# -- over real HTTP ----------------------------------------------------------------------------------


def reference_answer(state: SymbolicState) -> str:
    """An answer as a reference checkpoint writes it: its state, a Python literal."""
    return str(to_reference(state))


ARRIVED_FRIDGE = SymbolicState(
    "fridge 1", "nothing", {**START.world_state, "fridge 1": ReceptacleState(True, False)}
)
OPENED_FRIDGE = SymbolicState(
    "fridge 1", "nothing", {**START.world_state, "fridge 1": ReceptacleState(True, True, ("egg 1", "milk 1"))}
)


@pytest.fixture
def server() -> Iterator[str]:
    script = Script.from_dict(
        {
            "rules": [
                {"match": r"^\[PRE\].*\naction: go to shelf 1\n", "responses": [reference_answer(AT_SHELF)]},
                {
                    "match": r"^\[PRE\].*\naction: go to fridge 1\n",
                    "responses": [reference_answer(ARRIVED_FRIDGE)],
                },
                {
                    "match": r"^\[PRE\].*\naction: open fridge 1\n",
                    "responses": ["no idea", reference_answer(OPENED_FRIDGE)],
                },
                {"match": r"^\[PER\].*\naction: go to shelf 1\n", "responses": [reference_answer(AT_SHELF)]},
            ],
            "default": "no state here",
        }
    )
    with FakeOpenAIServer(script).running() as url:
        yield url


def model_at(url: str, dialect: str) -> LLMWorldModel:
    chat = make_chat_model(
        f"openai:fake-model@{url}", LLMConfig(api_key="sk-test", max_retries=0, timeout=5.0)
    )
    return LLMWorldModel(chat, dialect=dialect)


def test_reference_answers_are_read_in_the_reference_dialect_and_dropped_in_ours(server: str) -> None:
    reference = model_at(server, "reference")
    assert asyncio.run(reference.predict(START, "go to shelf 1", CONDITIONS, n=4)) == [AT_SHELF] * 4
    assert reference.stats.dropped_samples == 0 and reference.stats.samples == 4
    answers = Script.from_dict({"default": reference_answer(AT_SHELF)})  # whatever the prompt
    with FakeOpenAIServer(answers).running() as url:
        ours = model_at(url, "implement")
        assert asyncio.run(ours.predict(START, "go to shelf 1", CONDITIONS, n=4)) == []
    assert ours.stats.dropped_samples == 4 and ours.stats.empty_predictions == 1


def test_perception_reads_a_reference_answer_without_falling_back(server: str) -> None:
    wm = model_at(server, "reference")
    arrive = "You arrive at shelf 1. On the shelf 1, you see a mug 1."
    assert asyncio.run(wm.perceive(START, Perceived("go to shelf 1", arrive))) == AT_SHELF
    assert wm.stats.fallbacks == 0 and wm.stats.parse_failures == 0


def test_a_closed_receptacle_is_opened_in_a_second_request_and_spliced(server: str) -> None:
    wm = model_at(server, "reference")
    predicted = asyncio.run(wm.predict(START, "go to fridge 1", CONDITIONS, n=2))
    assert wm.stats.requests == 2 and wm.stats.samples == 4  # two arrivals, two openings
    assert wm.stats.dropped_samples == 1  # the first opening answer held no state
    fridges = [state.world_state["fridge 1"] for state in predicted]
    assert fridges[0] == ReceptacleState(True, False, ())  # its opening was unusable: its own listing
    assert fridges[1] == ReceptacleState(True, False, ("egg 1", "milk 1"))
    assert all(state.agent_location == "fridge 1" for state in predicted)


# -- acceptance: `implement wm eval` against a server answering in the reference's dialect -----------


def expected_samples(games: list[Game], samples: int) -> int:
    """Completions `wm eval --no-search` asks for: `samples` per information-gathering step, else 1."""
    env = AlfworldEnv(privileged=True, max_steps=200)
    transitions = [t for game in games for t in play_transitions(env, game, seed=0)]
    return sum(samples if t.information_gathering else 1 for t in transitions)


@pytest.mark.parametrize("dialect", ["reference", "implement"])
def test_wm_eval_counts_and_reports_the_drops(
    cli: Cli, tmp_path: Path, tiny_games: list[Game], dialect: str
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"default": reference_answer(AT_SHELF)}))
    config = tmp_path / "wm.toml"
    config.write_text(f'[world_model]\ndialect = "{dialect}"\n')
    with FakeOpenAIServer(Script.load(answers)).running() as url:
        result = cli(
            "wm", "eval", "--split", "tiny", "--limit", "2", "--world-model", f"openai:fake-model@{url}",
            "--samples", "3", "--no-search", "--json", "--config", str(config),
            env={"OPENAI_API_KEY": "sk-test"},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dialect"] == dialect
    stats = report["model_stats"]
    assert stats["request_errors"] == 0
    samples = expected_samples(tiny_games[:2], 3)
    if dialect == "reference":
        assert report["dropped_samples"] == 0 and stats["empty_predictions"] == 0
        assert stats["samples"] >= samples  # openings of closed receptacles add their own
    else:
        assert report["dropped_samples"] == stats["samples"] == samples > 0
