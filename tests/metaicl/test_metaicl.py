"""MetaICL conditions: collection, merging, seeded selection, training subsets, formatting, memory, store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from implement.agents.base import TaskMemory
from implement.errors import DataError
from implement.metaicl import (
    MEMORY_KEY,
    Conditions,
    FailedAction,
    collect_conditions,
    conditions_from_memory,
    merge_conditions,
    read_conditions,
    remember_trajectory,
    select_conditions,
    store_conditions,
    training_subset,
    write_conditions,
)
from implement.prompts.world_model import format_conditions
from implement.state import ReceptacleState, SymbolicState


def state(
    location: str = "middle of room", inventory: str = "nothing", **recs: ReceptacleState
) -> SymbolicState:
    world = {
        "countertop 1": ReceptacleState(),
        "fridge 1": ReceptacleState(open=False),
        "cabinet 1": ReceptacleState(open=False),
    }
    world.update({name.replace("_", " "): rec for name, rec in recs.items()})
    return SymbolicState(agent_location=location, inventory=inventory, world_state=world)


S0 = state()
S1 = state("countertop 1", countertop_1=ReceptacleState(True, "N/A", ("apple 1", "apple 2", "knife 1")))
S2 = state("countertop 1", "apple 1", countertop_1=ReceptacleState(True, "N/A", ("apple 2", "knife 1")))
S3 = state(
    "fridge 1", "apple 1", countertop_1=S2.world_state["countertop 1"], fridge_1=ReceptacleState(True, False)
)
S4 = state(
    "fridge 1",
    "apple 1",
    countertop_1=S2.world_state["countertop 1"],
    fridge_1=ReceptacleState(True, True, ("egg 2", "lettuce 1")),
)
S5 = state(
    "fridge 1",
    "nothing",
    countertop_1=S2.world_state["countertop 1"],
    fridge_1=ReceptacleState(True, True, ("egg 2", "lettuce 1", "apple 1")),
)
TRAJECTORY = [
    (S0, "go to countertop 1", True, S1),
    (S1, "take apple 1 from countertop 1", True, S2),
    (S2, "open cabinet 1", False, S2),  # not at the cabinet: fails
    (S2, "go to fridge 1", True, S3),
    (S3, "open fridge 1", True, S4),
    (S4, "move apple 1 to fridge 1", True, S5),
    (S5, "open cabinet 1", False, S5),
]


def test_collects_object_types_at_first_sight_and_failed_actions_with_context() -> None:
    c = collect_conditions(TRAJECTORY)
    assert c.object_lists == {"countertop 1": ["apple", "apple", "knife"], "fridge 1": ["egg", "lettuce"]}
    assert "cabinet 1" not in c.object_lists  # never seen inside
    assert c.failed_actions == [
        FailedAction(
            "open cabinet 1", "countertop 1", "apple 1", {"visited": False, "open": False, "objects": []}
        ),
        FailedAction(
            "open cabinet 1", "fridge 1", "nothing", {"visited": False, "open": False, "objects": []}
        ),
    ]


def test_collect_accepts_transition_objects() -> None:
    from implement.world_model.evaluate import Transition

    steps = [Transition("g", b, a, ok, after, False) for b, a, ok, after in TRAJECTORY]
    assert collect_conditions(steps) == collect_conditions(TRAJECTORY)


def test_merge_newest_list_wins_and_failed_actions_are_unique() -> None:
    first = collect_conditions(TRAJECTORY)
    second = Conditions(
        object_lists={"fridge 1": ["egg"]},
        failed_actions=[first.failed_actions[0], FailedAction("x", "y", "z")],
    )
    merged = merge_conditions(first, second)
    assert merged.object_lists == {"countertop 1": ["apple", "apple", "knife"], "fridge 1": ["egg"]}
    assert merged.failed_actions == [*first.failed_actions, FailedAction("x", "y", "z")]


def big_conditions() -> Conditions:
    lists = {f"shelf {i}": ["book"] for i in range(1, 41)}
    lists["drawer 5"] = ["pen"]
    lists["countertop 1"] = ["knife"]
    lists["sidetable 1"] = ["apple", "mug"]  # holds the held object's type
    failed = [FailedAction(f"take book 1 from shelf {i}", f"shelf {i}", "nothing") for i in range(1, 41)]
    failed += [
        FailedAction("open drawer 5", "countertop 1", "nothing"),  # same target
        FailedAction("go to sofa 1", "countertop 1", "nothing"),  # same location
        FailedAction("heat apple 1 with microwave 1", "microwave 1", "apple 1(hot)"),  # same held object
    ]
    return Conditions(object_lists=lists, failed_actions=failed)


HOLDING = SymbolicState(
    agent_location="countertop 1",
    inventory="apple 1",
    world_state={"drawer 5": ReceptacleState(open=False), "countertop 1": ReceptacleState(True, "N/A")},
)


def test_selection_keeps_every_relevant_one_and_at_most_max_others() -> None:
    c = big_conditions()
    for seed in range(20):
        chosen = select_conditions(
            c, HOLDING, "go to drawer 5", max_object_lists=15, max_failed_actions=15, rng=seed
        )
        assert {"drawer 5", "countertop 1", "sidetable 1"} <= set(chosen.object_lists)
        assert len(chosen.object_lists) == 15 + 3
        relevant = c.failed_actions[-3:]
        assert all(f in chosen.failed_actions for f in relevant)
        assert len(chosen.failed_actions) == 15 + 3
        assert len({json.dumps(f.__dict__) for f in chosen.failed_actions}) == 18  # no repeats


def test_selection_under_the_limit_keeps_everything() -> None:
    c = collect_conditions(TRAJECTORY)
    chosen = select_conditions(c, S0, "go to cabinet 1", rng=3)
    assert chosen.object_lists == c.object_lists
    assert chosen.failed_actions == c.failed_actions
    assert select_conditions(None, S0, "go to cabinet 1") == Conditions()


def test_seeded_selection_is_reproducible() -> None:
    c = big_conditions()
    a = select_conditions(c, HOLDING, "go to drawer 5", max_object_lists=5, max_failed_actions=5, rng=7)
    b = select_conditions(c, HOLDING, "go to drawer 5", max_object_lists=5, max_failed_actions=5, rng=7)
    d = select_conditions(
        c, HOLDING, "go to drawer 5", max_object_lists=5, max_failed_actions=5, rng=random.Random(7)
    )
    assert a == b == d
    others = [
        select_conditions(c, HOLDING, "go to drawer 5", max_object_lists=5, max_failed_actions=5, rng=s)
        for s in range(8, 14)
    ]
    assert any(o != a for o in others)


def test_object_lists_only_for_information_gathering_actions() -> None:
    c = big_conditions()
    visited = SymbolicState(
        agent_location="countertop 1",
        inventory="apple 1",
        world_state={"drawer 5": ReceptacleState(True, False), "countertop 1": ReceptacleState(True, "N/A")},
    )
    assert select_conditions(c, visited, "go to drawer 5").object_lists == {}
    assert select_conditions(c, HOLDING, "put apple 1 in/on countertop 1").object_lists == {}
    assert select_conditions(c, HOLDING, "open drawer 5").object_lists != {}
    assert select_conditions(c, visited, "go to drawer 5").failed_actions  # condition 2 always


def test_formatting() -> None:
    assert format_conditions(None) == ""
    assert format_conditions(Conditions()) == ""
    text = format_conditions(collect_conditions(TRAJECTORY))
    assert "Condition 1" in text and "Condition 2" in text
    assert "- countertop 1: apple, apple, knife" in text
    assert "- open cabinet 1 (agent at fridge 1, holding nothing, target state" in text
    only_failed = format_conditions(Conditions(failed_actions=[FailedAction("go to x 1", "y 1", "z 1")]))
    assert "Condition 1" not in only_failed
    assert "- go to x 1 (agent at y 1, holding z 1)" in only_failed


def test_task_memory_round_trip_across_trials() -> None:
    memory = TaskMemory("game")
    assert conditions_from_memory(memory.data) == Conditions()
    merged = remember_trajectory(memory.data, TRAJECTORY)
    assert merged == collect_conditions(TRAJECTORY)
    json.dumps(memory.to_dict())  # JSON all the way
    restored = TaskMemory("game", trial=2, data=json.loads(json.dumps(memory.data)))
    assert conditions_from_memory(restored.data) == merged
    again = remember_trajectory(restored.data, TRAJECTORY[:3])
    assert again == merged  # nothing new
    store_conditions(restored.data, Conditions())
    assert restored.data[MEMORY_KEY] == {"object_lists": {}, "failed_actions": []}


def test_training_subsets_are_seeded_and_give_object_lists_only_to_information_gathering() -> None:
    c = big_conditions()
    a = [training_subset(c, information_gathering=True, rng=random.Random(3)) for _ in range(2)]
    assert a[0] == a[1]
    sizes = set()
    rng = random.Random(0)
    for _ in range(200):
        names, indices = training_subset(c, information_gathering=True, rng=rng)
        assert names == [n for n in c.object_lists if n in names]  # stored order
        assert indices == sorted(indices) and all(0 <= i < len(c.failed_actions) for i in indices)
        sizes.add(len(indices))
        names, indices = training_subset(c, information_gathering=False, rng=rng)
        assert names == []
    assert 0 in sizes and len(c.failed_actions) in sizes  # sizes from 0 to all


def test_store_round_trip_and_clear_errors(tmp_path: Path) -> None:
    per_game = {"game a": collect_conditions(TRAJECTORY), "game b": Conditions()}
    write_conditions(tmp_path / "c", per_game)
    assert read_conditions(tmp_path / "c") == per_game
    assert json.loads((tmp_path / "c" / "object_lists.json").read_text()) == {
        g: c.object_lists for g, c in per_game.items()
    }
    with pytest.raises(DataError, match="not found"):
        read_conditions(tmp_path / "missing")
    (tmp_path / "c" / "failed_actions.json").write_text("[1]")
    with pytest.raises(DataError, match="should map game ids"):
        read_conditions(tmp_path / "c")


def test_the_package_imports_no_game_engine() -> None:
    heavy = "{'textworld', 'alfworld', 'pydantic', 'torch'}"
    code = f"import sys, implement.metaicl; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout == "[]\n"
