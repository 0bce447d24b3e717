"""The LLM policy: its prompt, answers, re-asks and fallbacks over real HTTP, and a run on built games."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FaultPlan
from implement.agents import Agent, make_policy
from implement.agents.belief import Belief
from implement.agents.implement import ImplementAgent
from implement.agents.llm_policy import LLMPolicy
from implement.agents.policy import PolicyReply, PolicyView
from implement.config import Config
from implement.eval.runner import evaluate
from implement.llm.base import LLMError
from implement.prompts.policy import SYSTEM_TEXT, policy_messages
from implement.prompts.policy import VERSION as POLICY_PROMPT_VERSION
from implement.prompts.state_text import render_state
from implement.state import ReceptacleState, SymbolicState
from implement.world_model.symbolic import SymbolicWorldModel
from recording import Recorder, served

pytestmark = pytest.mark.timeout(60)

STATE = SymbolicState(
    agent_location="countertop 1",
    inventory="nothing",
    world_state={
        "countertop 1": ReceptacleState(True, "N/A", ("apple 1",)),
        "shelf 1": ReceptacleState(),
        "fridge 1": ReceptacleState(open=False),
    },
)
ADMISSIBLE = ("go to fridge 1", "go to shelf 1", "take apple 1 from countertop 1", "look")
FRIDGE = Belief("go to fridge 1", 2, p_changes=1.0, text="go to fridge 1: you are at fridge 1 (100%).")
TAKE = Belief("take apple 1 from countertop 1", 1, p_changes=1.0, text="take apple 1: you hold apple 1.")
VIEW = PolicyView(
    goal="Your task is to: put a cool apple in shelf.",
    task_type="pick_cool_then_place_in_recep",
    state=STATE,
    history=[("look", True), ("open shelf 1", False)],
    admissible=ADMISSIBLE,
    evaluated={FRIDGE.action: FRIDGE, TAKE.action: TAKE},
    round=2,
    final=False,
)
FIRST = replace(VIEW, evaluated={}, round=1)
FINAL = replace(VIEW, round=5, final=True)
BLIND = replace(VIEW, evaluated={}, round=1, final=True, imagination=False)


def answer(help: bool, action: str | None = None, proposals: list[str] | None = None) -> str:
    return json.dumps({"thought": "because", "help": help, "action": action, "proposals": proposals or []})


CHOOSE_FRIDGE = answer(False, "go to fridge 1")
REASK = "cannot be used"  # what every re-ask says


def decide(script: dict[str, Any], view: PolicyView, **kwargs: Any) -> tuple[PolicyReply, Recorder]:
    with served(script) as (_, recorder):
        return asyncio.run(LLMPolicy(recorder, **kwargs).decide(view)), recorder


# -- the prompt ----------------------------------------------------------------------------------------


def user_text(view: PolicyView, max_proposals: int = 8) -> str:
    system, user = policy_messages(view, max_proposals)
    assert system == {"role": "system", "content": SYSTEM_TEXT}
    return str(user["content"])


def test_prompt_carries_the_round() -> None:
    text = user_text(VIEW, max_proposals=3)
    assert "Goal: Your task is to: put a cool apple in shelf." in text
    assert "1. look\n2. open shelf 1 (failed)" in text
    assert f"Current state:\n{render_state(STATE)}\n\n" in text
    assert "Admissible commands:\n" + "\n".join(ADMISSIBLE) in text
    assert f"- go to fridge 1: you are at fridge 1 (100%).\n- {TAKE.action}: {TAKE.text}" in text
    assert text.endswith('Round 2. Either propose: "help": true and up to 3 admissible commands not '
                         'evaluated yet in "proposals", or choose: "help": false and an "action" copied '
                         "from the evaluated actions.")  # fmt: skip
    first = user_text(FIRST)
    assert "(none yet)" in first and "nothing is evaluated yet, so propose" in first
    for key in ('"thought"', '"help"', '"action"', '"proposals"', "Not visited", "Visited", "belief"):
        assert key in SYSTEM_TEXT
    assert POLICY_PROMPT_VERSION == "policy-2"


def test_prompt_variants_say_when_the_policy_must_choose() -> None:
    final = user_text(FINAL)
    assert "last round: choose now" in final and "copied from the evaluated actions" in final
    assert "Either propose" not in final
    blind = user_text(BLIND)
    assert "no world model in this run" in blind and "copied from the admissible commands" in blind
    assert "Evaluated actions" not in blind and "Either propose" not in blind


# -- answers over HTTP ---------------------------------------------------------------------------------


def test_help_gives_normalized_deduplicated_capped_proposals() -> None:
    proposals = [
        "Go to shelf 1.",
        "go to shelf 1",
        "go to fridge 1",
        "> look",
        "pick up apple 1",
        "examine shelf 1",
    ]
    reply, recorder = decide({"default": answer(True, None, proposals)}, VIEW, max_proposals=2)
    assert reply == PolicyReply(proposals=["go to shelf 1", "look"], reasoning="because")  # fridge: evaluated
    reply, _ = decide({"default": answer(True, None, proposals)}, FIRST)
    assert reply.proposals == [
        "go to shelf 1", "go to fridge 1", "look", "take apple 1 from countertop 1", "examine shelf 1"
    ]  # fmt: skip
    assert len(recorder.sent) == 1 and recorder.sent[0] == policy_messages(VIEW, 2)


def test_a_choice_among_the_evaluated_actions_is_taken_from_fenced_text() -> None:
    fenced = f"Let me think.\n```json\n{answer(False, 'Go to fridge 1.')}\n```\nDone, that is my answer."
    reply, _ = decide({"default": fenced}, FINAL)
    assert reply == PolicyReply(choice="go to fridge 1", reasoning="because")


def test_without_imagination_any_admissible_command_is_chosen() -> None:
    reply, _ = decide({"default": answer(False, "go to shelf 1")}, BLIND)
    assert reply.choice == "go to shelf 1" and reply.parse_errors == []


def test_malformed_text_is_reasked_with_the_error() -> None:
    reasked = {"match": f"{REASK}: no JSON object", "responses": [CHOOSE_FRIDGE]}
    script = {"rules": [reasked, {"match": "^Goal:", "responses": ["I would go to the fridge.", "unused"]}]}
    reply, recorder = decide(script, VIEW)
    assert reply.choice == "go to fridge 1"
    assert reply.parse_errors == ["no JSON object in the answer 'I would go to the fridge.'"]
    first, second = recorder.sent
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": "I would go to the fridge."}
    assert second[3]["role"] == "user" and reply.parse_errors[0] in second[3]["content"]


@pytest.mark.parametrize(
    ("view", "bad", "error"),
    [
        (VIEW, answer(False, "go to shelf 1"), "'go to shelf 1' is not one of the evaluated actions"),
        (FINAL, answer(True, None, ["go to shelf 1"]), '"help" must be false now'),
        (BLIND, answer(True, None, ["go to shelf 1"]), '"help" must be false now'),
        (VIEW, answer(True, None, ["go to fridge 1"]), "no command that is not evaluated yet"),
        (VIEW, answer(True, None, None).replace("[]", '"go to shelf 1"'), '"proposals" must be a list'),
        (VIEW, answer(False), '"action" must be a command, got null'),
        (VIEW, '{"thought": "hm", "help": "maybe"}', 'has no "help": true or false'),
    ],
    ids=[
        "not-evaluated",
        "help-in-last-round",
        "help-without-imagination",
        "nothing-new",
        "not-a-list",
        "no-action",
        "no-help",
    ],
)
def test_an_unusable_answer_is_refused_and_reasked(view: PolicyView, bad: str, error: str) -> None:
    good = answer(False, "go to shelf 1") if view is BLIND else CHOOSE_FRIDGE
    script = {"rules": [{"match": REASK, "responses": [good]}, {"match": "^Goal:", "responses": [bad]}]}
    reply, recorder = decide(script, view)
    assert reply.choice in ("go to fridge 1", "go to shelf 1") and len(recorder.sent) == 2
    assert len(reply.parse_errors) == 1 and error in reply.parse_errors[0], reply.parse_errors


def test_always_malformed_gives_every_error_and_no_choice() -> None:
    reply, recorder = decide({"default": "no idea"}, VIEW, max_reasks=2)
    assert reply.choice is None and reply.proposals == []
    assert reply.parse_errors == ["no JSON object in the answer 'no idea'"] * 3
    assert [len(m) for m in recorder.sent] == [2, 4, 6]


def test_a_failed_request_raises_not_a_fallback() -> None:
    with (
        served({"default": CHOOSE_FRIDGE}, FaultPlan(rate=1.0, kinds=("500",))) as (server, recorder),
        pytest.raises(LLMError, match=r"request failed .*500"),
    ):
        asyncio.run(LLMPolicy(recorder).decide(VIEW))
    assert server.stats.requests == 1 and recorder.inner.usage.failed_requests == 1


def test_the_last_round_with_nothing_evaluated_asks_nothing() -> None:
    reply, recorder = decide({"default": CHOOSE_FRIDGE}, replace(FINAL, evaluated={}))
    assert reply.choice is None and recorder.sent == []


def test_make_policy_shares_one_chat_model() -> None:
    config = Config()
    config.policy.model, config.policy.max_proposals, config.llm.max_tokens = "scripted:", 3, 99
    new_policy = make_policy(config)
    first, second = new_policy(), new_policy()
    assert isinstance(first, LLMPolicy) and isinstance(second, LLMPolicy)
    assert first.chat_model is second.chat_model and first.name == "llm:scripted:"
    assert (first.max_proposals, first.max_tokens) == (3, 99)


# -- a run on built games ------------------------------------------------------------------------------


def test_implement_with_the_llm_policy_plays_the_built_games(data_root: Path, tmp_path: Path) -> None:
    """Round 1 proposes "look" (and "inventory"), round 2 chooses it: every round parses."""
    script = {
        "rules": [{"match": r"Evaluated actions \(imagined by the world model\):\n\(none yet\)",
                   "responses": [answer(True, None, ["Look.", "inventory", "look"])]}],
        "default": answer(False, "look"),
    }  # fmt: skip
    config = Config()
    config.environment.data_dir, config.environment.split, config.environment.max_steps = (
        str(data_root),
        "tiny",
        6,
    )
    config.evaluation.agent, config.evaluation.trials = "implement", 1
    with served(script) as (_, recorder):

        def builder(config: Config, **_: Any) -> Callable[[], Agent]:
            world_model = SymbolicWorldModel.default()
            return lambda: ImplementAgent(LLMPolicy(recorder), world_model, mc_samples=2, max_rounds=3)

        summary = asyncio.run(evaluate(config, tmp_path / "run", builder=builder))
    assert summary["episodes"] == 6 and summary["errors"] == 0
    lines = [json.loads(line) for f in sorted((tmp_path / "run" / "steps").rglob("*.jsonl"))
             for line in f.read_text().splitlines()]  # fmt: skip
    assert not any("error" in line for line in lines)
    decided = [line["decision"] for line in lines if "decision" in line]
    assert len(decided) == 6 * 6
    for decision in decided:
        assert decision["action"] == "look" and decision["details"]["fallback"] is None
        first, second = decision["details"]["rounds"]
        assert first["reply"]["proposals"] == ["look", "inventory"]
        assert [b["action"] for b in first["imagined"]] == ["look", "inventory"]
        assert second["reply"] == {
            "choice": "look",
            "proposals": [],
            "reasoning": "because",
            "parse_errors": [],
        }
    assert len(recorder.sent) == 2 * len(decided)
    second_rounds = [m[1]["content"] for m in recorder.sent if "\nRound 2. " in m[1]["content"]]
    assert len(second_rounds) == len(decided)
    assert all("Evaluated actions (imagined by the world model):\n- look: " in p for p in second_rounds)
