"""Build tiny ALFWorld text games (``game.tw-pddl`` files) for the test suite.

A game is written from a compact :class:`GameSpec` with ALFWorld's own PDDL domain and
grammar (shipped in the ``alfworld`` wheel), so tests need no downloaded data. The
walkthrough is computed with TextWorld's PDDL planner and replayed before the file is
written, so every game is known to be winnable with its walkthrough.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alfworld.gen import constants, goal_library

from implement.envs.games import TASK_TYPES

__all__ = [
    "TASK_TYPES",
    "GameSpec",
    "Placement",
    "UnsolvableSpecError",
    "build_game",
    "game_data",
    "plan_walkthrough",
    "standard_games",
    "standard_specs",
    "task_description",
]


# Static receptacle types of ALFRED (movable receptacles such as Mug or Bowl are objects here).
RECEPTACLE_TYPES = frozenset(constants.VAL_RECEPTACLE_OBJECTS) - constants.MOVABLE_RECEPTACLES_SET
# Receptacle types that start closed and must be opened (Box is an object in ALFWorld's games).
OPENABLE_TYPES = frozenset(constants.OPENABLE_CLASS_SET) & RECEPTACLE_TYPES
# Object types that real ALFWorld games never mark ``pickupable`` (fixtures and lamps).
FIXED_OBJECT_TYPES = frozenset(
    {
        "Bathtub", "Blinds", "Chair", "Curtains", "DeskLamp", "FloorLamp", "HousePlant",
        "LaundryHamperLid", "LightSwitch", "Mirror", "Painting", "Poster", "ShowerDoor",
        "ShowerGlass", "Sink", "StoveKnob", "Television", "Window",
    }
)  # fmt: skip
OBJECT_TYPES = frozenset(constants.OBJECTS) - RECEPTACLE_TYPES
LAMP_TYPES = frozenset(constants.VAL_ACTION_OBJECTS["Toggleable"])
# Type constants the domain's actions mention; they must be declared in every problem.
_DOMAIN_RTYPES = ("FridgeType", "MicrowaveType", "SinkBasinType")
_DOMAIN_OTYPES = ("ButterKnifeType", "KnifeType")
# Unary object facts and the ALFRED property set that enables each.
_OBJECT_PROPERTIES = (
    ("cleanable", "Cleanable"),
    ("heatable", "Heatable"),
    ("coolable", "Coolable"),
    ("toggleable", "Toggleable"),
    ("sliceable", "Sliceable"),
)
_MAX_INSTANCES = 39  # instance n gets x = (40 - n) / 4, which must stay positive
_RECEPTACLE_KEY = re.compile(r"^([A-Z][A-Za-z]*?)([1-9][0-9]*)$")


class UnsolvableSpecError(ValueError):
    """Raised when the planner finds no plan for a spec (or the goal already holds)."""


@dataclass(frozen=True)
class Placement:
    """One object instance put somewhere at the start."""

    object_type: str  # ALFRED type name, e.g. "Apple", "Mug", "DeskLamp"
    receptacle: str  # receptacle key in the spec, e.g. "CounterTop1"


@dataclass(frozen=True)
class GameSpec:
    """Compact description of one game; see :func:`build_game`."""

    task_type: str  # one of TASK_TYPES
    target: str  # object type to manipulate, e.g. "Apple"
    receptacle: str  # goal receptacle type; for look_at the lamp type ("DeskLamp"/"FloorLamp")
    receptacles: tuple[str, ...]  # receptacle instances "<Type><n>", e.g. ("CounterTop1", "Fridge1")
    placements: tuple[Placement, ...]
    scene: int = 1  # goes into the folder name
    phrasing: int = 0  # which of ALFWorld's two task templates to use (0 or 1)
    shared_spots: tuple[tuple[str, ...], ...] = ()  # receptacle keys put at one spot (the first's)

    @property
    def folder_name(self) -> str:
        """ALFWorld-style folder name ``<task_type>-<Target>-None-<Recep>-<scene>``."""
        return f"{self.task_type}-{self.target}-None-{self.receptacle}-{self.scene}"


def _alfworld_data(name: str) -> str:
    """Text of a file shipped in the alfworld wheel's ``data`` folder."""
    return (importlib.resources.files("alfworld") / "data" / name).read_text()


def _mangle(text: str) -> str:
    """Encode ``Apple|+01.00|...`` the way ALFWorld ids are written in PDDL."""
    for old, new in (("|", "_bar_"), ("+", "_plus_"), ("-", "_minus_"), (".", "_dot_")):
        text = text.replace(old, new)
    return text


def _entity_id(type_name: str, instance: int, y: float, z: float) -> str:
    """Mangled id; larger instance numbers get smaller x.

    ALFWorld's Demangler numbers ids of one type in reverse sorted order, so the id of
    instance 1 must sort last for it to be shown as e.g. "apple 1".
    """
    x = (40 - instance) / 4
    coords = f"{x:+06.2f}|{y:+06.2f}|{z:+06.2f}"
    if type_name.endswith("Basin"):  # "SinkBasin" -> "Sink|...|SinkBasin", shown as "sinkbasin 1"
        return _mangle(f"{type_name[: -len('Basin')]}|{coords}|{type_name}")
    return _mangle(f"{type_name}|{coords}")


def _location(*parts: int) -> str:
    return _mangle("loc|" + "|".join(str(p) for p in parts))


def _split_key(key: str) -> tuple[str, int]:
    match = _RECEPTACLE_KEY.match(key)
    if match is None or match.group(1) not in RECEPTACLE_TYPES:
        raise ValueError(f"bad receptacle key {key!r}: expected '<ReceptacleType><n>', e.g. 'CounterTop1'")
    return match.group(1), int(match.group(2))


def _validate(spec: GameSpec) -> None:
    if spec.task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {spec.task_type!r}; expected one of {TASK_TYPES}")
    if spec.target not in OBJECT_TYPES or spec.target in FIXED_OBJECT_TYPES:
        raise ValueError(f"target {spec.target!r} is not a pickupable ALFRED object type")
    if spec.task_type == "look_at_obj_in_light":
        if spec.receptacle not in LAMP_TYPES:
            raise ValueError(f"look_at games need a lamp type as receptacle, got {spec.receptacle!r}")
    elif spec.receptacle not in RECEPTACLE_TYPES:
        raise ValueError(f"goal receptacle {spec.receptacle!r} is not an ALFRED receptacle type")
    if not 0 <= spec.phrasing < len(goal_library.gdict[spec.task_type]["templates"]):
        raise ValueError(f"phrasing must be 0 or 1, got {spec.phrasing}")
    if len(set(spec.receptacles)) != len(spec.receptacles):
        raise ValueError(f"duplicate receptacle keys in {spec.receptacles}")
    numbers: dict[str, list[int]] = {}
    for key in spec.receptacles:
        rtype, n = _split_key(key)
        numbers.setdefault(rtype, []).append(n)
    for rtype, ns in numbers.items():
        if sorted(ns) != list(range(1, len(ns) + 1)):
            raise ValueError(f"{rtype} instances must be numbered 1..{len(ns)}, got {sorted(ns)}")
        if len(ns) > _MAX_INSTANCES:
            raise ValueError(f"at most {_MAX_INSTANCES} instances of {rtype}")
    for placement in spec.placements:
        if placement.object_type not in OBJECT_TYPES:
            raise ValueError(f"{placement.object_type!r} is not an ALFRED object type")
        if placement.receptacle not in spec.receptacles:
            raise ValueError(f"placement {placement} names a receptacle not in {spec.receptacles}")
    for group in spec.shared_spots:
        if not set(group) <= set(spec.receptacles):
            raise ValueError(f"shared spot {group} names a receptacle not in {spec.receptacles}")
    counts = Counter(p.object_type for p in spec.placements)
    if counts and max(counts.values()) > _MAX_INSTANCES:
        raise ValueError(f"at most {_MAX_INSTANCES} instances of one object type")


def task_description(spec: GameSpec) -> str:
    """The task sentence ALFWorld would print for ``spec``, e.g. "put a cool apple in fridge"."""
    template = goal_library.gdict[spec.task_type]["templates"][spec.phrasing]
    recep = spec.receptacle.lower()
    return template.format(obj=spec.target.lower(), recep=recep, toggle=recep, mrecep="")


def _goal_pddl(spec: GameSpec) -> str:
    goal = goal_library.gdict[spec.task_type]["pddl"]
    goal = goal.replace("#", "-")  # goal_library writes PDDL types as "?o # object"
    return goal.format(obj=spec.target, recep=spec.receptacle, toggle=spec.receptacle, mrecep="")


def _problem_pddl(spec: GameSpec, name: str) -> str:
    """The PDDL problem text (objects, init facts and goal) for ``spec``."""
    receptacles = {key: _split_key(key) for key in spec.receptacles}
    recep_ids: dict[str, str] = {}
    recep_locs: dict[str, str] = {}
    for index, (key, (rtype, n)) in enumerate(receptacles.items(), start=1):
        recep_ids[key] = _entity_id(rtype, n, 0.9, index / 2)
        recep_locs[key] = _location(index, -index, index % 4, 45)
    for first, *others in spec.shared_spots:
        recep_locs.update({key: recep_locs[first] for key in others})
    start = _location(0, 0, 0, 30)

    objects: list[tuple[str, str, str]] = []  # (id, type, receptacle key)
    seen: Counter[str] = Counter()
    for placement in spec.placements:
        seen[placement.object_type] += 1
        index = spec.receptacles.index(placement.receptacle) + 1
        oid = _entity_id(placement.object_type, seen[placement.object_type], 1.0, index / 2)
        objects.append((oid, placement.object_type, placement.receptacle))

    rtypes = sorted({rtype for rtype, _ in receptacles.values()} | {t[:-4] for t in _DOMAIN_RTYPES})
    otypes = sorted({otype for _, otype, _ in objects} | {spec.target} | {t[:-4] for t in _DOMAIN_OTYPES})
    if spec.task_type == "look_at_obj_in_light":
        otypes = sorted(set(otypes) | {spec.receptacle})

    init: list[str] = []
    init += [f"(receptacleType {recep_ids[k]} {rtype}Type)" for k, (rtype, _) in receptacles.items()]
    init += [f"(objectType {oid} {otype}Type)" for oid, otype, _ in objects]
    scene_otypes = sorted({otype for _, otype, _ in objects})
    for rtype in sorted({rtype for rtype, _ in receptacles.values()}):
        allowed = constants.VAL_RECEPTACLE_OBJECTS[rtype]
        init += [f"(canContain {rtype}Type {otype}Type)" for otype in scene_otypes if otype in allowed]
    init += [f"(pickupable {oid})" for oid, otype, _ in objects if otype not in FIXED_OBJECT_TYPES]
    init += [
        f"(isReceptacleObject {oid})"
        for oid, otype, _ in objects
        if otype in constants.MOVABLE_RECEPTACLES_SET
    ]
    init += [f"(openable {recep_ids[k]})" for k, (rtype, _) in receptacles.items() if rtype in OPENABLE_TYPES]
    init.append(f"(atLocation agent1 {start})")
    for fact, prop in _OBJECT_PROPERTIES:
        allowed = constants.VAL_ACTION_OBJECTS[prop]
        init += [f"({fact} {oid})" for oid, otype, _ in objects if otype in allowed]
    init += [f"(inReceptacle {oid} {recep_ids[key]})" for oid, _, key in objects]
    init += [f"(receptacleAtLocation {recep_ids[k]} {recep_locs[k]})" for k in spec.receptacles]
    init += [f"(objectAtLocation {oid} {recep_locs[key]})" for oid, _, key in objects]

    declarations = (
        ["agent1 - agent"]
        + [f"{otype}Type - otype" for otype in otypes]
        + [f"{rtype}Type - rtype" for rtype in rtypes]
        + [f"{oid} - object" for oid, _, _ in objects]
        + [f"{recep_ids[k]} - receptacle" for k in spec.receptacles]
        + [f"{loc} - location" for loc in sorted({*recep_locs.values(), start})]
    )
    indent = "\n        "
    return (
        f"\n(define (problem {name})\n(:domain alfred)\n(:objects{indent}"
        + indent.join(declarations)
        + f"\n        )\n\n(:init{indent}"
        + indent.join(init)
        + "\n        )\n"
        + _goal_pddl(spec)
    )


def game_data(
    spec: GameSpec, *, trial: str = "trial_T0", walkthrough: list[str] | None = None
) -> dict[str, Any]:
    """The JSON content of ``game.tw-pddl`` for ``spec`` (walkthrough as given, default empty)."""
    _validate(spec)
    return {
        "pddl_domain": _alfworld_data("alfred.pddl"),
        "grammar": _alfworld_data("alfred.twl2").replace("UNKNOWN GOAL", task_description(spec)),
        "pddl_problem": _problem_pddl(spec, f"plan_{trial}"),
        "solvable": walkthrough is not None,
        "walkthrough": list(walkthrough or []),
    }


def plan_walkthrough(data: dict[str, Any]) -> list[str]:
    """Plan a winning command list for game ``data`` and check it by replaying it.

    Raises :class:`UnsolvableSpecError` when no plan exists or the game is won at the start,
    and ``RuntimeError`` if the replayed plan does not win exactly at its last step.
    """
    import fast_downward
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
    from textworld.envs.pddl import PddlEnv

    infos = textworld.EnvInfos(won=True, policy_commands=True, admissible_commands=True)
    env = AlfredDemangler(PddlEnv(infos))
    try:
        try:
            env.load(data)
        except KeyError:
            # TextWorld chokes on the dummy task Fast Downward emits for a relaxed-unreachable goal.
            _, sas = fast_downward.pddl2sas(data["pddl_domain"], data["pddl_problem"])
            if "Atom dummy(val1)" in sas:
                raise UnsolvableSpecError("the goal is unreachable (no relaxed plan)") from None
            raise
        state = env.reset()
        if state["won"]:
            raise UnsolvableSpecError("the goal already holds at the start")
        plan = list(state["policy_commands"])
        if not plan:
            raise UnsolvableSpecError("the planner found no plan for this spec")
        for step, command in enumerate(plan, start=1):
            if command not in state["admissible_commands"]:
                raise RuntimeError(f"planned command {command!r} is not admissible")
            state, _, _ = env.step(command)
            if state["won"] != (step == len(plan)):
                raise RuntimeError(f"replaying the plan {plan} gives won={state['won']} at step {step}")
        return plan
    finally:
        env.close()


def build_game(spec: GameSpec, root: Path, *, trial: str = "trial_T0") -> Path:
    """Write root/<task_type>-<Target>-None-<Recep>-<scene>/<trial>/game.tw-pddl and return its path."""
    walkthrough = plan_walkthrough(game_data(spec, trial=trial))
    path = Path(root) / spec.folder_name / trial / "game.tw-pddl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(game_data(spec, trial=trial, walkthrough=walkthrough), indent=2))
    return path


def standard_specs() -> tuple[GameSpec, ...]:
    """Specs of :func:`standard_games`: one small solvable game per task type."""
    p = Placement
    return (
        GameSpec(  # closed drawer to open; distractors elsewhere
            task_type="pick_and_place_simple",
            target="CellPhone",
            receptacle="Bed",
            receptacles=("Bed1", "Drawer1", "Drawer2", "SideTable1", "Dresser1"),
            placements=(p("Book", "Bed1"), p("CellPhone", "Drawer1"), p("Pencil", "SideTable1")),
            scene=301,
            phrasing=1,
        ),
        GameSpec(  # lamp and target on different receptacles; the dresser holds several objects
            task_type="look_at_obj_in_light",
            target="AlarmClock",
            receptacle="DeskLamp",
            receptacles=("Desk1", "Dresser1", "SideTable1", "Drawer1"),
            placements=(
                p("CD", "Dresser1"),
                p("AlarmClock", "Dresser1"),
                p("KeyChain", "Dresser1"),
                p("DeskLamp", "SideTable1"),
                p("Pen", "Desk1"),
            ),
            scene=302,
        ),
        GameSpec(  # target in a closed cabinet; two cabinets; sink with a distractor fork
            task_type="pick_clean_then_place_in_recep",
            target="Mug",
            receptacle="CoffeeMachine",
            receptacles=("CounterTop1", "Cabinet1", "Cabinet2", "SinkBasin1", "CoffeeMachine1"),
            placements=(p("Cup", "CounterTop1"), p("Mug", "Cabinet2"), p("Fork", "SinkBasin1")),
            scene=3,
        ),
        GameSpec(  # target in the closed fridge; heat does not need the microwave open
            task_type="pick_heat_then_place_in_recep",
            target="Egg",
            receptacle="CounterTop",
            receptacles=("CounterTop1", "Fridge1", "Microwave1", "Cabinet1"),
            placements=(p("Egg", "Fridge1"), p("Lettuce", "Fridge1"), p("Bread", "CounterTop1")),
            scene=4,
            phrasing=1,
        ),
        GameSpec(  # goal receptacle is the closed fridge itself
            task_type="pick_cool_then_place_in_recep",
            target="Apple",
            receptacle="Fridge",
            receptacles=("CounterTop1", "CounterTop2", "Fridge1", "Microwave1", "SinkBasin1"),
            placements=(p("Tomato", "CounterTop1"), p("Apple", "CounterTop2"), p("Bread", "CounterTop2")),
            scene=5,
        ),
        GameSpec(  # two targets in different places; goal is a closed drawer
            task_type="pick_two_obj_and_place",
            target="Newspaper",
            receptacle="Drawer",
            receptacles=("Sofa1", "CoffeeTable1", "Drawer1", "ArmChair1"),
            placements=(
                p("Newspaper", "Sofa1"),
                p("RemoteControl", "Sofa1"),
                p("Newspaper", "CoffeeTable1"),
                p("Box", "ArmChair1"),
            ),
            scene=206,
        ),
    )


def standard_games(root: Path) -> list[Path]:
    """Build :func:`standard_specs` under ``root``: one small solvable game per task type."""
    return [build_game(spec, root) for spec in standard_specs()]
