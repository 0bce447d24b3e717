"""The answer schemas: each admits exactly what its request allows (checked with a JSON-schema validator)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from implement.agents.belief import exact_belief
from implement.agents.policy import PolicyView
from implement.prompts.schemas import MAX_THOUGHT, policy_schema, react_schema, state_schema
from implement.world_model.parsing import parse_state
from transcripts import ARRIVE_COUNTER, ARRIVE_FRIDGE, OPEN_FRIDGE, TAKE_APPLE, play, start

ADMISSIBLE = ("go to countertop 1", "go to fridge 1", "look", "inventory")


def valid(answer: dict[str, Any], schema: dict[str, Any]) -> bool:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema).is_valid(answer)


def view(evaluated: tuple[str, ...] = (), *, final: bool = False, imagination: bool = True) -> PolicyView:
    state = start()
    beliefs = {a: exact_belief(state, a, [state]) for a in evaluated}
    return PolicyView("put a hot apple in fridge.", "pick_heat_then_place_in_recep", state, [], ADMISSIBLE,
                      beliefs, 1, final, imagination)  # fmt: skip


def answer(help: bool, action: str | None = None, proposals: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"thought": "t", "help": help, "action": action, "proposals": list(proposals)}


def test_first_round_only_proposes_admissible_commands() -> None:
    schema = policy_schema(view(), max_proposals=2)
    assert valid(answer(True, None, ("go to fridge 1", "look")), schema)
    assert not valid(answer(True, None, ("go to fridge 1", "look", "inventory")), schema)  # capped
    assert not valid(answer(True, None, ("open drawer 7",)), schema)  # not admissible
    assert not valid(answer(False, "look"), schema)  # nothing evaluated: nothing to choose


def test_later_rounds_choose_evaluated_actions_or_propose_new_ones() -> None:
    schema = policy_schema(view(("go to fridge 1",)), max_proposals=8)
    assert valid(answer(False, "go to fridge 1"), schema)
    assert valid(answer(True, None, ("look",)), schema)
    assert not valid(answer(False, "look"), schema)  # not evaluated
    assert not valid(answer(True, None, ("go to fridge 1",)), schema)  # evaluated already
    assert not valid(answer(True, None, ()), schema)  # help without a proposal
    assert not valid(answer(False, None, ()), schema)  # no help and no action
    assert not valid(answer(True, "go to fridge 1", ("look",)), schema)  # both at once


@pytest.mark.parametrize(
    "final, imagination, choice", [(True, True, "go to fridge 1"), (True, False, "look")]
)
def test_the_last_round_and_vanilla_must_choose(final: bool, imagination: bool, choice: str) -> None:
    schema = policy_schema(view(("go to fridge 1",), final=final, imagination=imagination), max_proposals=8)
    assert valid(answer(False, choice), schema)
    assert not valid(answer(True, None, ("inventory",)), schema)
    assert not valid(answer(False, "open drawer 7"), schema)
    assert not valid({**answer(False, choice), "thought": "x" * (MAX_THOUGHT + 1)}, schema)  # bounded


def test_react_lines_are_a_bounded_thought_or_an_admissible_command() -> None:
    schema = react_schema(ADMISSIBLE, may_think=True)
    assert valid({"line": "think: the apple is likely on the countertop"}, schema)
    assert valid({"line": "go to fridge 1"}, schema)
    assert not valid({"line": "open drawer 7"}, schema)
    assert not valid({"line": "think: " + "x" * (MAX_THOUGHT + 1)}, schema)
    assert not valid({"line": "think: plan"}, react_schema(ADMISSIBLE, may_think=False))


def test_real_states_follow_the_state_schema_and_broken_ones_do_not() -> None:
    first = start()
    schema = state_schema(list(first.world_state))
    for state in (first, play(first, ARRIVE_COUNTER, TAKE_APPLE, ARRIVE_FRIDGE, OPEN_FRIDGE)):
        data = json.loads(state.to_json())
        assert valid(data, schema) and parse_state(state.to_json()) == state
    data = json.loads(first.to_json())
    assert not valid({**data, "agent_location": "garage 1"}, schema)  # an unknown receptacle
    bad_open = {**data["world_state"]["countertop 1"], "open": True}  # a countertop does not open
    assert not valid({**data, "world_state": {**data["world_state"], "countertop 1": bad_open}}, schema)
    missing = {k: v for k, v in data["world_state"].items() if k != "fridge 1"}
    assert not valid({**data, "world_state": missing}, schema)


def test_pruning_offers_no_action_imagined_to_change_nothing_while_another_changes_something() -> None:
    state = start()
    moved = play(state, ARRIVE_COUNTER)
    beliefs = {
        "look": exact_belief(state, "look", [state]),
        "go to countertop 1": exact_belief(state, "go to countertop 1", [moved]),
    }
    view = PolicyView("put a hot apple in fridge.", "pick_heat_then_place_in_recep", state, [], ADMISSIBLE,
                      beliefs, 5, True)  # fmt: skip
    pruned = policy_schema(view, max_proposals=8, prune_unchanged=True)
    assert valid(answer(False, "go to countertop 1"), pruned) and not valid(answer(False, "look"), pruned)
    assert valid(
        answer(False, "look"), policy_schema(view, max_proposals=8)
    )  # the paper's: any evaluated one
    nothing = {"look": beliefs["look"]}
    view.evaluated = nothing
    assert valid(answer(False, "look"), policy_schema(view, max_proposals=8, prune_unchanged=True))


def test_no_thought_when_its_length_is_zero() -> None:
    schema = policy_schema(view(("go to fridge 1",), final=True), max_proposals=8, max_thought=0)
    assert valid({"help": False, "action": "go to fridge 1", "proposals": []}, schema)
    assert not valid(answer(False, "go to fridge 1"), schema)
