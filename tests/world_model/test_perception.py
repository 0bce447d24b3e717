"""The text parser of ALFWorld's observations: hand-written observations, then the engine's truth."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import pytest

from alfgames import standard_games
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game, read_walkthrough
from implement.state import (
    MIDDLE_OF_ROOM,
    NA,
    NOTHING,
    ReceptacleState,
    SymbolicState,
    base_name,
    split_name,
)
from implement.world_model.perception import initial_state, parse_list, update_state
from transcripts import ARRIVE_COUNTER, ARRIVE_FRIDGE, OPEN_FRIDGE, TAKE_APPLE, play, start

# ---------------------------------------------------------------- lists, the initial state


def test_parse_list() -> None:
    assert parse_list("a apple 1, an egg 2, and a mug 1") == ["apple 1", "egg 2", "mug 1"]
    assert parse_list("a apple 1, and a mug 1") == ["apple 1", "mug 1"]
    assert parse_list("a apple 1") == ["apple 1"]
    assert parse_list("nothing") == []
    assert parse_list("drawer 4, drawer 3, and dresser 1") == ["drawer 4", "drawer 3", "dresser 1"]
    assert parse_list("a handtowelholder 1 and a sandwich 2") == ["handtowelholder 1", "sandwich 2"]


def test_initial_state_lists_every_receptacle_unvisited() -> None:
    state = start()
    assert state.agent_location == MIDDLE_OF_ROOM == "middle of room"
    assert state.inventory == NOTHING == "nothing"
    assert list(state.world_state) == [
        "cabinet 2", "cabinet 1", "countertop 1", "drawer 1", "fridge 1",
        "microwave 1", "shelf 1", "sinkbasin 1", "stoveburner 1",
    ]  # fmt: skip
    assert all(not r.visited and r.objects == () for r in state.world_state.values())
    # openability before a visit is inferred from the type; seeing the receptacle settles it
    assert state.world_state["fridge 1"].open is False
    assert state.world_state["drawer 1"].open is False
    assert state.world_state["countertop 1"].open == NA
    assert initial_state("nothing to see").world_state == {}


# ---------------------------------------------------------------- every feedback of the engine


def test_go_to_open_receptacle_and_empty_one() -> None:
    state = play(start(), ARRIVE_COUNTER)
    assert state.agent_location == "countertop 1"
    assert state.world_state["countertop 1"] == ReceptacleState(True, NA, ("apple 1", "knife 1", "mug 2"))
    state = play(state, ("go to shelf 1", "You arrive at shelf 1. On the shelf 1, you see nothing."))
    assert state.agent_location == "shelf 1"
    assert state.world_state["shelf 1"] == ReceptacleState(True, NA, ())


def test_go_to_closed_receptacle_then_open_and_close() -> None:
    state = play(start(), ARRIVE_FRIDGE)
    assert state.agent_location == "fridge 1"
    assert state.world_state["fridge 1"] == ReceptacleState(True, False, ())
    state = play(state, OPEN_FRIDGE)
    assert state.world_state["fridge 1"] == ReceptacleState(True, True, ("egg 2", "lettuce 1"))
    state = play(state, ("close fridge 1", "You close the fridge 1."))
    assert state.world_state["fridge 1"] == ReceptacleState(True, False, ("egg 2", "lettuce 1"))
    # arriving again at the closed fridge keeps what was seen inside
    state = play(state, ARRIVE_COUNTER, ARRIVE_FRIDGE)
    assert state.world_state["fridge 1"].objects == ("egg 2", "lettuce 1")
    state = play(
        state, ("open fridge 1", "You open the fridge 1. The fridge 1 is open. In it, you see nothing.")
    )
    assert state.world_state["fridge 1"] == ReceptacleState(True, True, ())


def test_arrive_at_an_open_receptacle_and_a_non_openable_drawer() -> None:
    state = play(
        start(),
        ("go to drawer 1", "You arrive at drawer 1. The drawer 1 is open. In it, you see a spoon 1."),
    )
    assert state.world_state["drawer 1"] == ReceptacleState(True, True, ("spoon 1",))
    state = play(start(), ("go to drawer 1", "You arrive at drawer 1. On the drawer 1, you see nothing."))
    assert state.world_state["drawer 1"] == ReceptacleState(True, NA, ())


def test_open_a_receptacle_at_the_same_spot_does_not_move_the_agent() -> None:
    state = play(
        start(),
        ("go to cabinet 1", "You arrive at cabinet 1. The cabinet 1 is closed."),
        ("open cabinet 2", "You open the cabinet 2. The cabinet 2 is open. In it, you see a plate 1."),
    )
    assert state.agent_location == "cabinet 1"
    assert state.world_state["cabinet 2"] == ReceptacleState(True, True, ("plate 1",))


def test_take_and_move_both_grammars() -> None:
    state = play(start(), ARRIVE_COUNTER, TAKE_APPLE)
    assert state.inventory == "apple 1"
    assert state.world_state["countertop 1"].objects == ("knife 1", "mug 2")
    moved = play(
        state,
        ARRIVE_FRIDGE,
        OPEN_FRIDGE,
        ("move apple 1 to fridge 1", "You move the apple 1 to the fridge 1."),
    )
    assert moved.inventory == NOTHING
    assert moved.world_state["fridge 1"].objects == ("egg 2", "lettuce 1", "apple 1")
    for action, feedback in [
        ("put apple 1 in/on fridge 1", "You put the apple 1 in/on the fridge 1."),
        ("put apple 1 in fridge 1", "You put the apple 1 in the fridge 1."),
        ("put apple 1 on fridge 1", "You put the apple 1 on the fridge 1."),
        ("put apple 1 into fridge 1", "PutObjectInReceptacleObject: You put the apple 1 in the fridge 1."),
    ]:
        assert play(state, ARRIVE_FRIDGE, OPEN_FRIDGE, (action, feedback)) == moved


def test_older_grammar_arrival_names_the_location() -> None:
    state = play(
        start(), ("go to countertop 1", "You arrive at loc 7. On the countertop 1, you see a apple 1.")
    )
    assert state.agent_location == "countertop 1"
    assert state.world_state["countertop 1"].objects == ("apple 1",)
    state = play(start(), ("go to fridge 1", "You arrive at loc 3."))
    assert state.agent_location == "fridge 1"
    assert state.world_state["fridge 1"].visited


def test_heat_cool_clean_slice_and_suffixes_follow_the_object() -> None:
    state = play(start(), ARRIVE_COUNTER, TAKE_APPLE)
    state = play(state, ("heat apple 1 with microwave 1", "You heat the apple 1 using the microwave 1."))
    assert state.inventory == "apple 1(hot)"
    state = play(state, ("cool apple 1 with fridge 1", "You cool the apple 1 using the fridge 1."))
    assert state.inventory == "apple 1(cool)"  # cooling undoes heating, and back
    state = play(state, ("clean apple 1 with sinkbasin 1", "You clean the apple 1 using the sinkbasin 1."))
    assert state.inventory == "apple 1(cool)(clean)"
    state = play(state, ("heat apple 1 with microwave 1", "You heat the apple 1 using the microwave 1."))
    assert state.inventory == "apple 1(hot)(clean)"
    state = play(
        state, ARRIVE_COUNTER, ("move apple 1 to countertop 1", "You move the apple 1 to the countertop 1.")
    )
    assert state.world_state["countertop 1"].objects == ("knife 1", "mug 2", "apple 1(hot)(clean)")
    state = play(
        state,
        ("take knife 1 from countertop 1", "You pick up the knife 1 from the countertop 1."),
        ("slice apple 1 with knife 1", "You sliced the apple 1 with the knife 1."),
    )
    assert state.world_state["countertop 1"].objects == ("mug 2", "apple 1(hot)(clean)(sliced)")
    # listings never show states: seeing the countertop again keeps the known ones
    state = play(
        state,
        (
            "go to countertop 1",
            "You arrive at countertop 1. On the countertop 1, you see a mug 2, and a apple 1.",
        ),
    )
    assert state.world_state["countertop 1"].objects == ("mug 2", "apple 1(hot)(clean)(sliced)")
    assert state.inventory == "knife 1"
    state = play(
        state,
        ("move knife 1 to countertop 1", "You move the knife 1 to the countertop 1."),
        ("take apple 1 from countertop 1", "You pick up the apple 1 from the countertop 1."),
    )
    assert state.inventory == "apple 1(hot)(clean)(sliced)"


def test_use_turns_a_lamp_on_and_off() -> None:
    state = play(
        initial_state("Looking quickly around you, you see a desk 1, and a sidetable 1."),
        ("go to desk 1", "You arrive at desk 1. On the desk 1, you see a desklamp 1, and a pen 1."),
        ("use desklamp 1", "You turn on the desklamp 1."),
    )
    assert state.world_state["desk 1"].objects == ("desklamp 1(on)", "pen 1")
    off = play(state, ("use desklamp 1", "You turn off the desklamp 1."))
    assert off.world_state["desk 1"].objects == ("desklamp 1", "pen 1")
    assert play(state, ("use pen 1", "You don't see any switch on the pen 1.")) == state


def test_states_of_objects_listed_nowhere_are_kept_until_they_are_listed() -> None:
    """ALFWorld lets the agent use or slice an object in a receptacle at its spot it never saw."""
    state = play(
        initial_state("Looking quickly around you, you see a drawer 1, and a dresser 1."),
        ("go to drawer 1", "You arrive at drawer 1. On the drawer 1, you see nothing."),
        ("use desklamp 1", "You turn on the desklamp 1."),
        ("slice apple 1 with knife 1", "You sliced the apple 1 with the knife 1."),
        ("examine apple 1", "This is a hot sliced apple 1."),
    )
    assert "desklamp 1" not in state.to_json()
    assert state.unlisted_states == {"desklamp 1": ("on",), "apple 1": ("hot", "sliced")}
    state = play(
        state,
        (
            "go to dresser 1",
            "You arrive at dresser 1. On the dresser 1, you see a apple 1, and a desklamp 1.",
        ),
    )
    assert state.world_state["dresser 1"].objects == ("apple 1(hot)(sliced)", "desklamp 1(on)")
    # the memory is not part of the paper's JSON nor of equality
    assert SymbolicState.from_dict(state.to_dict()) == state


def test_examine_receptacles_and_objects() -> None:
    state = play(start(), ARRIVE_FRIDGE)
    assert play(state, ("examine fridge 1", "The fridge 1 is closed.")) == state
    state = play(state, OPEN_FRIDGE)
    seen = play(state, ("examine fridge 1", "The fridge 1 is open. In it, you see a egg 2."))
    assert seen.world_state["fridge 1"].objects == ("egg 2",)
    seen = play(state, ("examine countertop 1", "On the countertop 1, you see a cup 1."))
    assert seen.world_state["countertop 1"] == ReceptacleState(True, NA, ("cup 1",))
    assert seen.agent_location == "fridge 1"
    # examining an object reads its states
    for text, expected in [
        ("This is a hot and clean sliced egg 2.", "egg 2(hot)(clean)(sliced)"),
        ("This is a cool and clean egg 2.", "egg 2(cool)(clean)"),
        ("This is a cold egg 2.", "egg 2(cool)"),
        ("This is a hot egg 2.", "egg 2(hot)"),
        ("This is a sliced egg 2.", "egg 2(sliced)"),
        ("There's nothing special about egg 2.", "egg 2"),
    ]:
        examined = play(state, ("examine egg 2", text))
        assert examined.world_state["fridge 1"].objects == (expected, "lettuce 1"), text
    hot = play(state, ("examine egg 2", "This is a hot egg 2."))
    assert play(hot, ("examine egg 2", "There's nothing special about egg 2.")) == state
    lamp = play(state, ("examine lettuce 1", "This lettuce 1 is on."))
    assert lamp.world_state["fridge 1"].objects == ("egg 2", "lettuce 1(on)")
    assert play(lamp, ("examine lettuce 1", "This lettuce 1 is off.")) == state
    # a receptacle object's contents are listed on its receptacle already: nothing changes
    assert play(state, ("examine egg 2", "This is a normal egg 2. In it, you see a lettuce 1.")) == state


def test_inventory_and_look() -> None:
    state = play(start(), ARRIVE_COUNTER, TAKE_APPLE)
    assert play(state, ("inventory", "You are carrying: a apple 1.")) == state
    assert play(state, ("inventory", "You are not carrying anything.")).inventory == NOTHING
    hot = play(state, ("heat apple 1 with microwave 1", "You heat the apple 1 using the microwave 1."))
    assert play(hot, ("inventory", "You are carrying: a apple 1.")).inventory == "apple 1(hot)"
    assert play(start(), ("inventory", "You are carrying: a mug 2.")).inventory == "mug 2"
    assert play(state, ("look", "You are facing the countertop 1. Next to it, you see nothing.")) == state
    facing = "You are facing the drawer 1, cabinet 1, and countertop 1. Next to it, you see a candle 1."
    assert play(state, ("look", facing)) == state
    moved = play(state, ("look", "You are facing the shelf 1. Next to it, you see nothing."))
    assert moved.agent_location == "shelf 1"
    middle = "You are in the middle of a room. Looking quickly around you, you see a bed 1."
    looked = play(start(), ("look", middle))
    assert looked.agent_location == MIDDLE_OF_ROOM
    assert looked.world_state["bed 1"] == ReceptacleState(False, NA, ())


def test_failures_help_and_unknown_text_leave_the_state(caplog: pytest.LogCaptureFixture) -> None:
    state = play(start(), ARRIVE_COUNTER, TAKE_APPLE)
    help_text = (
        "\nAvailable commands:\n  look:                             look around your current location\n"
    )
    for action, text in [
        ("go to moon 1", "Nothing happens."),
        ("take egg 1 from countertop 1", "Nothing happens.\n"),
        ("help", help_text),
        ("dance", "The room spins."),
        ("dance", ""),
    ]:
        with caplog.at_level(logging.DEBUG, logger="implement.world_model.perception"):
            assert update_state(state, action, text) is state
    assert "The room spins." in caplog.text


# ---------------------------------------------------------------- agreement with the engine's truth

_STATE_FACTS = {"ishot": "hot", "iscool": "cool", "isclean": "clean", "issliced": "sliced", "istoggled": "on"}


def _truth_states(facts: Iterable[Any]) -> dict[str, set[str]]:
    states: dict[str, set[str]] = defaultdict(set)
    for fact in facts:
        if fact.name in _STATE_FACTS:
            states[fact.arguments[0].name].add(_STATE_FACTS[fact.name])
    return states


def observed_truth(
    facts: Iterable[Any],
    parsed: SymbolicState,
    *,
    seen_inside: Collection[str] | None = None,
    initial_states: dict[str, set[str]] | None = None,
) -> list[str]:
    """Where the parsed state disagrees with the engine's true facts on what the agent has observed.

    Checked: the agent's location (any receptacle at the agent's spot, or "middle of room"
    where there is none); the inventory and its states; every listed receptacle exists;
    `open` of each visited one (a bool iff openable, and whether it is open now); objects
    of each one, exactly where its inside was seen (`seen_inside`; None: every visited
    receptacle that is not closed now), else a subset (what the agent put there).
    States: a parsed state the object does not have is wrong; a true state missing from the
    parse is wrong unless the object had it at the start (`initial_states`) and nobody said so.
    """
    facts = list(facts)
    by_name: dict[str, list[Any]] = defaultdict(list)
    for fact in facts:
        by_name[fact.name].append(fact)
    (agent_at,) = [f.arguments[1].name for f in by_name["atlocation"]]
    at_location: dict[str, set[str]] = defaultdict(set)
    for f in by_name["receptacleatlocation"]:
        at_location[f.arguments[1].name].add(f.arguments[0].name)
    receptacles = set().union(*at_location.values())
    contents: dict[str, set[str]] = defaultdict(set)
    for f in by_name["inreceptacle"]:
        contents[f.arguments[1].name].add(f.arguments[0].name)
    held = {f.arguments[1].name for f in by_name["holds"]}
    openable = {f.arguments[0].name for f in by_name["openable"]}
    opened = {f.arguments[0].name for f in by_name["opened"]}
    states = _truth_states(facts)
    initial = initial_states or {}
    problems: list[str] = []

    def check_states(entry: str, where: str) -> None:
        name, parsed_states = split_name(entry)
        true = states.get(name, set())
        wrong = set(parsed_states) - true
        missing = true - set(parsed_states) - initial.get(name, set())
        if wrong or missing:
            problems.append(
                f"{where}: {entry!r}, truly {sorted(true)}: wrong {sorted(wrong)}, missing {sorted(missing)}"
            )

    here = at_location.get(agent_at, set())
    if parsed.agent_location == MIDDLE_OF_ROOM:
        if here:
            problems.append(f"agent_location: parsed 'middle of room', truly at {sorted(here)}")
    elif parsed.agent_location not in here:
        problems.append(
            f"agent_location: parsed {parsed.agent_location!r}, truly at {sorted(here) or 'middle of room'}"
        )

    if parsed.holding != (next(iter(held)) if held else None):
        problems.append(f"inventory: parsed {parsed.inventory!r}, truly holding {sorted(held) or 'nothing'}")
    elif parsed.holding is not None:
        check_states(parsed.inventory, "inventory")

    for name, rec in parsed.world_state.items():
        if name not in receptacles:
            problems.append(f"{name}: no such receptacle")
            continue
        if rec.visited and name in openable and rec.open != (name in opened):
            problems.append(
                f"{name}: parsed open={rec.open!r}, truly {'open' if name in opened else 'closed'}"
            )
        if rec.visited and name not in openable and rec.open != NA:
            problems.append(f"{name}: parsed open={rec.open!r} but it is not openable")
        parsed_objects = {base_name(o) for o in rec.objects}
        seen = rec.visited and rec.open is not False
        known = name in seen_inside if seen_inside is not None else seen
        if known and parsed_objects != contents[name]:
            missing, extra = contents[name] - parsed_objects, parsed_objects - contents[name]
            problems.append(f"{name}: objects missing {sorted(missing)}, extra {sorted(extra)}")
        elif not known and not parsed_objects <= contents[name]:
            problems.append(
                f"{name}: parsed objects {sorted(parsed_objects)} not all in {sorted(contents[name])}"
            )
        for entry in rec.objects:
            check_states(entry, name)
    return problems


class Tracker:
    """Replays actions on an env, parsing every observation and checking it against the truth."""

    def __init__(self, env: AlfworldEnv, game: Game | Path) -> None:
        self.env = env
        _, obs = env.reset(game)
        self.game = env.game
        self.obs = obs
        self.state = initial_state(obs.text)
        self.initial_states = _truth_states(env.true_facts())
        self.seen_inside: set[str] = set()
        self.log: list[str] = []
        self.check("reset")

    def step(self, action: str) -> None:
        self.obs = self.env.step(action)
        self.state = update_state(self.state, self.obs.action or action, self.obs.text)
        self.check(f"{action!r} -> {self.obs.text!r}")

    def check(self, what: str) -> None:
        self.log.append(what)
        self.seen_inside |= {
            n for n, r in self.state.world_state.items() if r.visited and r.open is not False
        }
        problems = observed_truth(
            self.env.true_facts(),
            self.state,
            seen_inside=self.seen_inside,
            initial_states=self.initial_states,
        )
        if problems:
            transcript = "\n  ".join(self.log[-8:])
            pytest.fail(
                f"{self.game.id if self.game else '?'} step {len(self.log) - 1}:\n  {transcript}\n"
                f"state: {self.state.to_json()}\nproblems:\n  " + "\n  ".join(problems)
            )


CHANGES = ("move ", "put ", "heat ", "cool ", "clean ", "slice ", "use ")
NOISE = (
    "take unicorn 1 from countertop 1",
    "go to moon 1",
    "open countertop 1",
    "put apple 1 in fridge 1",
    "slice bread 1 with apple 1",
    "close bed 1",
)


def random_run(env: AlfworldEnv, game: Game | Path, seed: int, steps: int = 30) -> Tracker:
    """A seeded run of mostly admissible random actions, checked after every step."""
    rng = random.Random(seed)
    tracker = Tracker(env, game)
    for _ in range(steps):
        if tracker.obs.done:
            break
        commands = list(tracker.obs.admissible_commands)
        # the commands that change the world are rare among the admissible ones: favour them
        moves = [c for c in commands if c.startswith(CHANGES)]
        if rng.random() < 0.1:
            action = rng.choice(NOISE)
        elif moves and rng.random() < 0.3:
            action = rng.choice(moves)
        else:
            action = rng.choice(commands)
        tracker.step(action)
    return tracker


def walkthrough_run(env: AlfworldEnv, game: Game | Path) -> Tracker:
    tracker = Tracker(env, game)
    walkthrough = read_walkthrough(tracker.game) if tracker.game else []
    for action in walkthrough:
        tracker.step(action)
    assert tracker.obs.won, f"{tracker.game}: the walkthrough did not win"
    return tracker


def test_observed_truth_catches_wrong_states() -> None:
    """The checker itself: a parse that is wrong in each way is reported."""
    from textworld.logic import Proposition, Variable

    def fact(name: str, *args: tuple[str, str]) -> Proposition:
        return Proposition(name, [Variable(n, t) for n, t in args])

    agent, loc = ("agent1", "agent"), ("loc 1", "location")
    fridge, counter = ("fridge 1", "receptacle"), ("countertop 1", "receptacle")
    apple, egg = ("apple 1", "object"), ("egg 1", "object")
    facts = [
        fact("atlocation", agent, loc),
        fact("receptacleatlocation", fridge, loc),
        fact("receptacleatlocation", counter, ("loc 2", "location")),
        fact("openable", fridge),
        fact("inreceptacle", egg, fridge),
        fact("holds", agent, apple),
        fact("ishot", apple),
    ]
    here, inv = "fridge 1", "apple 1(hot)"
    good = SymbolicState(
        here,
        inv,
        {"fridge 1": ReceptacleState(True, False, ()), "countertop 1": ReceptacleState(False, NA, ())},
    )
    assert observed_truth(facts, good) == []
    assert observed_truth(facts, good, seen_inside={"fridge 1"}) != []  # the egg was seen, then lost
    bad = [
        SymbolicState("countertop 1", inv, good.world_state),
        SymbolicState(here, "apple 1", good.world_state),
        SymbolicState(here, "apple 1(hot)(clean)", good.world_state),
        SymbolicState(here, NOTHING, good.world_state),
        SymbolicState(here, inv, {"fridge 1": ReceptacleState(True, True, ("egg 1",))}),
        SymbolicState(here, inv, {"fridge 1": ReceptacleState(True, NA, ())}),
        SymbolicState(here, inv, {"fridge 1": ReceptacleState(True, False, ("pan 1",))}),
        SymbolicState(here, inv, {"fridge 1": ReceptacleState(False, False, ("pan 1",))}),
        SymbolicState(here, inv, {"countertop 1": ReceptacleState(True, False, ())}),
        SymbolicState(here, inv, {"garage 1": ReceptacleState()}),
    ]
    for state in bad:
        assert observed_truth(facts, state), state
    unseen_heat = SymbolicState(good.agent_location, "apple 1", good.world_state)
    assert observed_truth(facts, unseen_heat, initial_states={"apple 1": {"hot"}}) == []


@pytest.fixture(scope="module")
def built_games(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return standard_games(tmp_path_factory.mktemp("state-games"))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> AlfworldEnv:
    return AlfworldEnv(privileged=True, max_steps=1000, cache_dir=tmp_path_factory.mktemp("sas"))


def test_parsed_state_agrees_with_truth_on_built_games(built_games: list[Path], env: AlfworldEnv) -> None:
    assert len(built_games) == 6
    for path in built_games:
        walkthrough_run(env, path)
        for seed in range(3):
            random_run(env, path, seed, steps=30)


@pytest.fixture(scope="module")
def real_env() -> AlfworldEnv:
    """One env for all real games, on the user's translation cache (as the real data is theirs)."""
    return AlfworldEnv(privileged=True, max_steps=1000)


@pytest.mark.data
@pytest.mark.slow
def test_parsed_state_agrees_with_truth_on_every_valid_seen_walkthrough(
    valid_seen: list[Game], real_env: AlfworldEnv
) -> None:
    for game in valid_seen:
        walkthrough_run(real_env, game)


@pytest.mark.data
@pytest.mark.slow
def test_parsed_state_agrees_with_truth_on_random_runs_in_real_games(
    valid_seen: list[Game], real_env: AlfworldEnv
) -> None:
    """Real rooms have what the built ones lack: several receptacles at one spot, objects in two."""
    first_of_each_type = {game.task_type: game for game in reversed(valid_seen)}
    for i, game in enumerate(sorted(first_of_each_type.values())):
        random_run(real_env, game, seed=i, steps=40)
