"""`derive_admissible_commands` against the real engine's admissible commands, on built games."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from alfgames import GameSpec, Placement, build_game
from implement.envs.admissible import derive_admissible_commands
from implement.envs.alfworld import AlfworldEnv
from implement.envs.commands import VERBS, parse_command
from implement.envs.games import Game
from implement.state import SymbolicState, base_name
from implement.world_model.perception import initial_state, update_state
from implement.world_model.symbolic import SymbolicWorldModel
from implement.world_model.symbolic.placements import PlacementCounts
from implement.world_model.symbolic.rules import NOTHING_HAPPENS, Scene, feedback

_KITCHEN = ("CounterTop1", "Cabinet1", "DiningTable1", "Microwave1", "Fridge1", "SinkBasin1", "SideTable1")
_PLACED = (
    Placement("Knife", "CounterTop1"),
    Placement("Mug", "CounterTop1"),
    Placement("Apple", "DiningTable1"),
    Placement("Potato", "Cabinet1"),
    Placement("Bread", "Fridge1"),
    Placement("DeskLamp", "SideTable1"),
)


def _kitchen(**changes: object) -> GameSpec:
    """A game where every verb has a use: a knife and sliceables, the three appliances, a lamp."""
    fields: dict[str, object] = {
        "task_type": "pick_heat_then_place_in_recep", "target": "Apple", "receptacle": "DiningTable",
        "receptacles": _KITCHEN, "placements": _PLACED, "scene": 7,
    }  # fmt: skip
    return GameSpec(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def counts() -> PlacementCounts:
    return SymbolicWorldModel.default().counts


def _walks(game: Game, walks: int, seed: int) -> list[tuple[SymbolicState, set[str]]]:
    """(parsed state, the engine's admissible commands) at every step of random admissible walks."""
    env, rng, seen = AlfworldEnv(max_steps=25), random.Random(seed), []
    for _ in range(walks):
        _, observation = env.reset(game)
        state = initial_state(observation.text)
        while not observation.done:
            seen.append((state, set(observation.admissible_commands)))
            action = rng.choice(sorted(set(observation.admissible_commands) - {"help"}))
            observation = env.step(action)
            state = update_state(state, action, observation.text)
    return seen


def _listed(state: SymbolicState) -> set[str]:
    return {base_name(o) for r in state.world_state.values() for o in r.objects} | {state.holding or ""}


def _names_an_unseen_object(command: str, state: SymbolicState) -> bool:
    parsed = parse_command(command)
    return parsed is not None and parsed.object is not None and parsed.object not in _listed(state)


def test_the_derived_commands_are_the_engines_but_for_objects_never_seen(
    tiny_games: list[Game], tmp_path: Path, counts: PlacementCounts
) -> None:
    kitchen = Game.from_path(build_game(_kitchen(), tmp_path))
    steps = [step for i, game in enumerate([*tiny_games, kitchen]) for step in _walks(game, 6, seed=i)]
    exact = 0
    for state, engine in steps:
        derived = set(derive_admissible_commands(state, counts))
        assert derived <= engine, (state.to_dict(), sorted(derived - engine))
        unknown = engine - derived  # e.g. slicing a potato in a cabinet the agent never opened
        assert all(_names_an_unseen_object(c, state) for c in unknown), (state.to_dict(), sorted(unknown))
        exact += derived == engine
    assert exact >= 0.95 * len(steps)
    verbs = {parse_command(c).verb for _, engine in steps for c in engine}  # type: ignore[union-attr]
    assert verbs == set(VERBS)  # every verb of the grammar was compared


def test_receptacles_sharing_a_spot_in_an_unfitted_room_are_out_of_reach(
    tmp_path: Path, counts: PlacementCounts
) -> None:
    """The documented limit: which receptacles share a spot is known only for the fitted rooms."""
    pair = {"countertop 1", "cabinet 1"}
    spec = _kitchen(shared_spots=(("CounterTop1", "Cabinet1"),), scene=8)
    for state, engine in _walks(Game.from_path(build_game(spec, tmp_path)), 4, seed=0):
        derived = set(derive_admissible_commands(state, counts))
        differing = {c for c in derived ^ engine if not _names_an_unseen_object(c, state)}
        if state.agent_location in pair:
            other = (pair - {state.agent_location}).pop()
            assert all(other in c for c in differing), (state.agent_location, sorted(differing))
        else:
            assert not differing, (state.agent_location, sorted(differing))


def test_the_rules_refuse_what_the_engine_refuses(tiny_games: list[Game], counts: PlacementCounts) -> None:
    """Going where the agent is, and examining an object it does not hold: "Nothing happens." in
    the engine, and so in the symbolic rules (which `derive_admissible_commands` judges with)."""
    env, checked = AlfworldEnv(max_steps=25), 0
    for game in tiny_games:
        _, observation = env.reset(game)
        state = initial_state(observation.text)
        going = next(c for c in observation.admissible_commands if c.startswith("go to "))
        state = update_state(state, going, env.step(going).text)
        here = state.receptacle(state.agent_location).objects
        refused = [going, *(f"examine {base_name(o)}" for o in here[:1])]
        for action in refused:
            assert env.step(action).text == NOTHING_HAPPENS, (game.id, action)
            assert feedback(Scene(state, counts), action) == NOTHING_HAPPENS, (game.id, action)
            checked += 1
    assert checked > len(tiny_games)  # some receptacle showed an object to examine
