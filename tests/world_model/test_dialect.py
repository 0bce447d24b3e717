"""The reference's dialect of the state: conversion both ways, on states perceived from real games."""

from __future__ import annotations

import ast
import json

import pytest

from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.state import NA, ReceptacleState, SymbolicState
from implement.world_model.dialect import (
    REFERENCE_MIDDLE_OF_ROOM,
    from_reference,
    reference_text,
    to_reference,
)
from implement.world_model.evaluate import play_transitions
from implement.world_model.parsing import StateParseError
from transcripts import ARRIVE_COUNTER, ARRIVE_FRIDGE, OPEN_FRIDGE, TAKE_APPLE, play, start

pytestmark = pytest.mark.timeout(120)


def test_the_start_of_a_game_in_the_reference_conventions() -> None:
    ref = to_reference(start())
    assert ref["agent_location"] == REFERENCE_MIDDLE_OF_ROOM and ref["inventory"] is None
    world = ref["world_state"]
    assert world["drawer 1"] == {"visited": False, "open": False, "objects": []}
    assert world["cabinet 2"]["open"] is False
    assert world["fridge 1"]["open"] == NA and world["microwave 1"]["open"] == NA  # until seen
    assert world["countertop 1"] == {"visited": False, "open": NA, "objects": []}
    assert from_reference(ref) == start()


def test_arriving_at_a_closed_receptacle_leaves_it_unvisited_in_the_reference() -> None:
    at_fridge = play(start(), ARRIVE_FRIDGE)
    assert at_fridge.world_state["fridge 1"] == ReceptacleState(True, False, ())
    fridge = to_reference(at_fridge)["world_state"]["fridge 1"]
    assert fridge == {"visited": False, "open": False, "objects": []}
    assert from_reference(to_reference(at_fridge)) == at_fridge
    opened = play(at_fridge, OPEN_FRIDGE)
    opened_fridge = to_reference(opened)["world_state"]["fridge 1"]
    assert opened_fridge == {"visited": True, "open": True, "objects": ["egg 2", "lettuce 1"]}
    holding = play(start(), ARRIVE_COUNTER, TAKE_APPLE)
    assert to_reference(holding)["inventory"] == "apple 1"
    assert from_reference(to_reference(holding)) == holding


def test_reference_text_is_the_python_literal_the_reference_writes() -> None:
    state = play(start(), ARRIVE_COUNTER)
    text = reference_text(state)
    assert '"inventory": None' in text and '"visited": True' in text and '"open": "N/A"' in text
    assert "'" not in text  # its quotes are double, as in its prompts and answers
    assert ast.literal_eval(text) == to_reference(state)
    with pytest.raises(ValueError):
        json.loads(text)  # not JSON: None and True are Python's
    assert from_reference(text) == state


def test_reference_answers_read_from_python_literals_json_and_whole_answers() -> None:
    state = play(start(), ARRIVE_COUNTER, TAKE_APPLE)
    ref = to_reference(state)
    assert from_reference(str(ref)) == state  # single quotes, as str(dict) writes
    assert from_reference(json.dumps(ref)) == state  # null inventory, true/false
    assert from_reference(f"Here it is:\n```python\n{reference_text(state)}\n```") == state


def test_the_reference_open_of_fridges_seen_inside_is_read() -> None:
    """It writes "N/A" for a fridge it saw inside on arrival (only drawers and cabinets get True)."""
    ref = {
        "agent_location": "fridge 1",
        "inventory": None,
        "world_state": {
            "fridge 1": {"visited": True, "open": "N/A", "objects": ["egg 2"]},
            "microwave 1": {"visited": False, "open": "N/A", "objects": []},
            "drawer 1": {"visited": False, "open": False, "objects": None},
        },
    }
    state = from_reference(ref)
    assert state.world_state["fridge 1"] == ReceptacleState(True, True, ("egg 2",))
    assert state.world_state["microwave 1"] == ReceptacleState(False, False, ())
    assert state.world_state["drawer 1"] == ReceptacleState(False, False, ())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no state here", "no valid reference state"),
        ("{'agent_location': 'x', 'inventory': None}", "missing keys ['world_state']"),
        ("{'agent_location': 3, 'inventory': None, 'world_state': {}}", "agent_location"),
        ("{'agent_location': 'x', 'inventory': 4, 'world_state': {}}", "inventory"),
        ("{'agent_location': 'x', 'inventory': None, 'world_state': {'a 1': {}}}", "missing keys"),
        ("{'agent_location': 'x', 'inventory': None, 'world_state': {'a 1': 2}}", "expected an object"),
        ("__import__('os').system('true')", "no valid reference state"),  # never evaluated
    ],
)
def test_bad_reference_states_are_rejected_with_a_clear_error(value: str, message: str) -> None:
    with pytest.raises(StateParseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_reference(value)


def test_a_non_state_value_is_rejected() -> None:
    with pytest.raises(StateParseError, match="expected a reference state"):
        from_reference(42)  # type: ignore[arg-type]
    with pytest.raises(StateParseError, match="world_state: expected an object"):
        from_reference({"agent_location": "x", "inventory": None, "world_state": []})


def _lost_in_the_reference(state: SymbolicState) -> set[str]:
    """Drawers and cabinets arrived at closed, never opened, the agent elsewhere: they read as unseen."""
    return {
        name
        for name, rec in state.world_state.items()
        if name.split()[0] in ("drawer", "cabinet")
        and rec.visited
        and rec.open is False
        and not rec.objects
        and name != state.agent_location
    }


def test_round_trips_on_states_perceived_from_real_games(tiny_games: list[Game]) -> None:
    env = AlfworldEnv(privileged=True, max_steps=200)
    checked = 0
    for game in tiny_games:
        for seed in range(2):
            for t in play_transitions(env, game, seed=seed, detours=0.5):
                for state in (t.before, t.after):
                    back = from_reference(reference_text(state))
                    lost = _lost_in_the_reference(state)
                    for name, rec in state.world_state.items():
                        expected = ReceptacleState(False, False, ()) if name in lost else rec
                        assert back.world_state[name] == expected, (game.id, t.action, name)
                    assert (back.agent_location, back.inventory) == (state.agent_location, state.inventory)
                    assert to_reference(back) == to_reference(state)  # the reference's side is exact
                    checked += 1
    assert checked > 50
