"""The generated ALFWorld games load and play in TextWorld's real engine, as ALFWorld loads them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import textworld
import textworld.gym
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

from alfgames import (
    TASK_TYPES,
    GameSpec,
    Placement,
    UnsolvableSpecError,
    build_game,
    standard_games,
    standard_specs,
)

SENTENCES = {
    "pick_and_place_simple": "put some cellphone on bed.",
    "look_at_obj_in_light": "look at alarmclock under the desklamp.",
    "pick_clean_then_place_in_recep": "put a clean mug in coffeemachine.",
    "pick_heat_then_place_in_recep": "heat some egg and put it in countertop.",
    "pick_cool_then_place_in_recep": "put a cool apple in fridge.",
    "pick_two_obj_and_place": "put two newspaper in drawer.",
}
WALKTHROUGHS = {
    "pick_and_place_simple": [
        "go to drawer 1",
        "open drawer 1",
        "take cellphone 1 from drawer 1",
        "go to bed 1",
        "move cellphone 1 to bed 1",
    ],
    "look_at_obj_in_light": [
        "go to dresser 1",
        "take alarmclock 1 from dresser 1",
        "go to sidetable 1",
        "use desklamp 1",
    ],
    "pick_clean_then_place_in_recep": [
        "go to cabinet 2",
        "open cabinet 2",
        "take mug 1 from cabinet 2",
        "go to sinkbasin 1",
        "clean mug 1 with sinkbasin 1",
        "go to coffeemachine 1",
        "move mug 1 to coffeemachine 1",
    ],
    "pick_heat_then_place_in_recep": [
        "go to fridge 1",
        "open fridge 1",
        "take egg 1 from fridge 1",
        "go to microwave 1",
        "heat egg 1 with microwave 1",
        "go to countertop 1",
        "move egg 1 to countertop 1",
    ],
    "pick_cool_then_place_in_recep": [
        "go to countertop 2",
        "take apple 1 from countertop 2",
        "go to fridge 1",
        "open fridge 1",
        "cool apple 1 with fridge 1",
        "move apple 1 to fridge 1",
    ],
    "pick_two_obj_and_place": [
        "go to sofa 1",
        "take newspaper 1 from sofa 1",
        "go to drawer 1",
        "open drawer 1",
        "move newspaper 1 to drawer 1",
        "go to coffeetable 1",
        "take newspaper 2 from coffeetable 1",
        "go to drawer 1",
        "move newspaper 2 to drawer 1",
    ],
}
OPENABLE = ("Fridge", "Cabinet", "Drawer", "Microwave", "Safe")


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[GameSpec, Path]]:
    paths = standard_games(tmp_path_factory.mktemp("alfgames"))
    return {spec.task_type: (spec, path) for spec, path in zip(standard_specs(), paths, strict=True)}


def make_env(path: Path):
    infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True, extras=["walkthrough"])
    env_id = textworld.gym.register_games(
        [str(path)],
        infos,
        batch_size=1,
        asynchronous=False,
        max_episode_steps=50,
        wrappers=[AlfredDemangler(), AlfredInfos()],
    )
    return textworld.gym.make(env_id)


def step(env, command: str) -> tuple[str, dict]:
    obs, _, _, info = env.step([command])
    return obs[0], {key: value[0] for key, value in info.items()}


def name(receptacle_key: str) -> str:
    """ "CounterTop1" -> "countertop 1" (the engine's name for a spec's receptacle key)."""
    stem = receptacle_key.rstrip("0123456789")
    return f"{stem.lower()} {receptacle_key[len(stem) :]}"


def test_one_game_per_task_type(games: dict[str, tuple[GameSpec, Path]]) -> None:
    assert sorted(games) == sorted(TASK_TYPES)
    for task_type, (spec, path) in games.items():
        assert path.name == "game.tw-pddl"
        assert path.parent.name == "trial_T0"
        assert path.parent.parent.name == f"{task_type}-{spec.target}-None-{spec.receptacle}-{spec.scene}"
        data = json.loads(path.read_text())
        assert set(data) == {"pddl_domain", "grammar", "pddl_problem", "solvable", "walkthrough"}
        assert data["solvable"] is True
        assert data["walkthrough"] == WALKTHROUGHS[task_type]


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_game_plays_in_the_real_engine(games: dict[str, tuple[GameSpec, Path]], task_type: str) -> None:
    spec, path = games[task_type]
    env = make_env(path)
    try:
        obs, infos = env.reset()
        intro, info = obs[0], {key: value[0] for key, value in infos.items()}
        assert intro.startswith("-= Welcome to TextWorld, ALFRED! =-")
        assert intro.rstrip().endswith(f"Your task is to: {SENTENCES[task_type]}")
        assert info["won"] is False
        assert info["facts"]
        for key in spec.receptacles:
            assert f"go to {name(key)}" in info["admissible_commands"]
        assert step(env, "take x")[0] == "Nothing happens."
        for key in spec.receptacles:
            if key.startswith(OPENABLE):
                obs_text, _ = step(env, f"go to {name(key)}")
                assert obs_text == f"You arrive at {name(key)}. The {name(key)} is closed."

        _, infos = env.reset()
        info = {key: value[0] for key, value in infos.items()}
        walkthrough = info["extra.walkthrough"]
        assert walkthrough == WALKTHROUGHS[task_type]
        for i, command in enumerate(walkthrough, start=1):
            assert command in info["admissible_commands"], command
            obs_text, info = step(env, command)
            assert obs_text != "Nothing happens.", command
            assert info["won"] is (i == len(walkthrough)), (i, command)
    finally:
        env.close()


def test_reset_is_fast(games: dict[str, tuple[GameSpec, Path]]) -> None:
    env = make_env(games["pick_two_obj_and_place"][1])
    try:
        start = time.perf_counter()
        env.reset()
        assert time.perf_counter() - start < 1.5
    finally:
        env.close()


def test_floor_lamp_and_multiple_instances(tmp_path: Path) -> None:
    spec = GameSpec(
        task_type="look_at_obj_in_light",
        target="Book",
        receptacle="FloorLamp",
        receptacles=("SideTable1", "SideTable2", "Sofa1"),
        placements=(
            Placement("FloorLamp", "Sofa1"),
            Placement("Book", "SideTable2"),
            Placement("Book", "SideTable2"),
        ),
        phrasing=1,
    )
    path = build_game(spec, tmp_path)
    data = json.loads(path.read_text())
    assert "Your task is to: examine the book with the floorlamp." in data["grammar"]
    assert data["walkthrough"][0] == "go to sidetable 2"
    assert "use floorlamp 1" in data["walkthrough"]
    assert build_game(spec, tmp_path / "again").read_bytes() == path.read_bytes()  # deterministic


@pytest.mark.parametrize(
    "spec",
    [
        GameSpec(  # nothing to heat with
            task_type="pick_heat_then_place_in_recep",
            target="Apple",
            receptacle="CounterTop",
            receptacles=("CounterTop1", "Fridge1"),
            placements=(Placement("Apple", "Fridge1"),),
        ),
        GameSpec(  # the target is not in the scene
            task_type="pick_two_obj_and_place",
            target="Book",
            receptacle="Shelf",
            receptacles=("Shelf1", "Desk1"),
            placements=(Placement("Book", "Desk1"),),
        ),
        GameSpec(  # the goal already holds
            task_type="pick_and_place_simple",
            target="Book",
            receptacle="Shelf",
            receptacles=("Shelf1", "Desk1"),
            placements=(Placement("Book", "Shelf1"),),
        ),
    ],
    ids=["no-microwave", "one-book-for-two", "already-won"],
)
def test_unsolvable_spec_raises(tmp_path: Path, spec: GameSpec) -> None:
    with pytest.raises(UnsolvableSpecError):
        build_game(spec, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("receptacles", "placements"),
    [
        (("CounterTop2",), ()),  # numbering must start at 1
        (("Kitchen1",), ()),  # not a receptacle type
        (("CounterTop1",), (Placement("Apple", "Fridge1"),)),  # unknown receptacle key
        (("CounterTop1",), (Placement("Spaceship", "CounterTop1"),)),  # unknown object type
    ],
)
def test_malformed_spec_raises(tmp_path: Path, receptacles: tuple[str, ...], placements: tuple) -> None:
    spec = GameSpec("pick_and_place_simple", "Apple", "CounterTop", receptacles, placements)
    with pytest.raises(ValueError):
        build_game(spec, tmp_path)
