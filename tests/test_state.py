"""The symbolic state: names and suffixes, the paper's JSON, diffs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from implement.errors import ImplementError
from implement.state import (
    NA,
    ReceptacleState,
    StateError,
    SymbolicState,
    base_name,
    diff_states,
    object_states,
    object_type,
    receptacle_type,
    split_name,
    with_states,
)
from implement.world_model.perception import update_state
from transcripts import ARRIVE_COUNTER, ARRIVE_FRIDGE, OPEN_FRIDGE, TAKE_APPLE, play, start

# ---------------------------------------------------------------- names and suffixes


def test_name_helpers() -> None:
    assert object_type("apple 1(hot)") == "apple"
    assert object_type("butterknife 12") == "butterknife"
    assert receptacle_type("countertop 1") == "countertop"
    assert receptacle_type("fridge") == "fridge"
    assert base_name("apple 1(hot)(sliced)") == "apple 1"
    assert object_states("apple 1(sliced)(hot)") == ("hot", "sliced")
    assert split_name("desklamp 1(on)") == ("desklamp 1", ("on",))
    assert split_name("apple 1(hot, clean)") == ("apple 1", ("hot", "clean"))
    assert with_states("apple 1(cool)", ["clean", "cold"]) == "apple 1(cool)(clean)"
    assert with_states("apple 1(hot)", []) == "apple 1"


# ---------------------------------------------------------------- serialization and diff


def test_json_round_trip_keeps_the_paper_format() -> None:
    state = play(start(), ARRIVE_COUNTER, TAKE_APPLE, ARRIVE_FRIDGE, OPEN_FRIDGE)
    data = json.loads(state.to_json())
    assert list(data) == ["agent_location", "inventory", "world_state"]
    assert data["agent_location"] == "fridge 1"
    assert data["inventory"] == "apple 1"
    assert data["world_state"]["fridge 1"] == {
        "visited": True,
        "open": True,
        "objects": ["egg 2", "lettuce 1"],
    }
    assert data["world_state"]["countertop 1"] == {
        "visited": True,
        "open": "N/A",
        "objects": ["knife 1", "mug 2"],
    }
    assert data["world_state"]["cabinet 1"] == {"visited": False, "open": False, "objects": []}
    assert SymbolicState.from_dict(data) == state
    assert SymbolicState.from_json(state.to_json()) == state
    assert update_state(state, *ARRIVE_COUNTER).agent_location == "countertop 1"
    assert state.agent_location == "fridge 1"  # updates never change the old state
    assert state.holding == "apple 1"
    assert start().holding is None
    assert state.receptacle("garage 1") == ReceptacleState(False, NA, ())
    assert state.receptacle("drawer 9") == ReceptacleState.unseen("drawer 9") == ReceptacleState(False, False)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"agent_location": "x", "inventory": "nothing"},
        {"agent_location": 3, "inventory": "nothing", "world_state": {}},
        {"agent_location": "x", "inventory": "nothing", "world_state": []},
        {
            "agent_location": "x",
            "inventory": "nothing",
            "world_state": {"a 1": {"visited": True, "open": True}},
        },
        {
            "agent_location": "x",
            "inventory": "-",
            "world_state": {"a 1": {"visited": 1, "open": True, "objects": []}},
        },
        {
            "agent_location": "x",
            "inventory": "-",
            "world_state": {"a 1": {"visited": True, "open": "yes", "objects": []}},
        },
        {
            "agent_location": "x",
            "inventory": "-",
            "world_state": {"a 1": {"visited": True, "open": True, "objects": "o"}},
        },
    ],
)
def test_from_dict_rejects_malformed_states(data: Any) -> None:
    with pytest.raises(StateError) as info:
        SymbolicState.from_dict(data)
    assert isinstance(info.value, ImplementError)


def test_from_json_rejects_non_json() -> None:
    with pytest.raises(StateError, match="not a JSON state"):
        SymbolicState.from_json("{agent")


def test_diff_states() -> None:
    a = play(start(), ARRIVE_COUNTER, ARRIVE_FRIDGE)
    assert diff_states(a, a) == {}
    b = play(a, OPEN_FRIDGE)
    assert diff_states(a, b) == {
        "world_state": {
            "fridge 1": {
                "open": {"from": False, "to": True},
                "objects": {"added": ["egg 2", "lettuce 1"], "removed": []},
            }
        }
    }
    c = play(
        a,
        ARRIVE_COUNTER,
        TAKE_APPLE,
        ("heat apple 1 with microwave 1", "You heat the apple 1 using the microwave 1."),
    )
    assert diff_states(a, c) == {
        "agent_location": {"from": "fridge 1", "to": "countertop 1"},
        "inventory": {"from": "nothing", "to": "apple 1(hot)"},
        "world_state": {"countertop 1": {"objects": {"added": [], "removed": ["apple 1"]}}},
    }
    d = play(
        start(), ("look", "You are in the middle of a room. Looking quickly around you, you see a bed 1.")
    )
    assert diff_states(start(), d) == {
        "world_state": {"bed 1": {"added": {"visited": False, "open": "N/A", "objects": []}}}
    }
    assert diff_states(d, start())["world_state"]["bed 1"] == {
        "removed": {"visited": False, "open": "N/A", "objects": []}
    }
    e = play(start(), ("go to shelf 1", "You arrive at shelf 1. On the shelf 1, you see nothing."))
    assert diff_states(start(), e)["world_state"] == {"shelf 1": {"visited": {"from": False, "to": True}}}
    json.dumps(diff_states(a, c))
