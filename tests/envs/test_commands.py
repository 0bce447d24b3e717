"""Command normalization: the forms LLMs write map onto the engine's admissible commands."""

from __future__ import annotations

import pytest

from implement.envs.commands import (
    APPLIANCES,
    VERBS,
    Command,
    CommandError,
    clean_command,
    format_command,
    normalize_command,
    parse_command,
)

ADMISSIBLE = [
    "go to countertop 1",
    "go to fridge 1",
    "take apple 1 from countertop 1",
    "take apple 1 from fridge 1",
    "take mug 2 from countertop 1",
    "move apple 1 to fridge 1",
    "use desklamp 1",
    "examine countertop 1",
    "open fridge 1",
    "look",
]


@pytest.mark.parametrize(
    ("written", "engine"),
    [
        ("go to fridge 1", "go to fridge 1"),
        ("Go to Fridge 1.", "go to fridge 1"),
        ("  go   to  fridge 1 ", "go to fridge 1"),
        ("> go to fridge 1", "go to fridge 1"),
        ("Action: open fridge 1", "open fridge 1"),
        ('"open fridge 1"', "open fridge 1"),
        ("goto fridge 1", "go to fridge 1"),
        ("put apple 1 in fridge 1", "move apple 1 to fridge 1"),
        ("put apple 1 on fridge 1", "move apple 1 to fridge 1"),
        ("put apple 1 in/on fridge 1", "move apple 1 to fridge 1"),
        ("Put apple 1 into fridge 1.", "move apple 1 to fridge 1"),
        ("place apple 1 inside fridge 1", "move apple 1 to fridge 1"),
        ("pick up apple 1 from countertop 1", "take apple 1 from countertop 1"),
        ("take mug 2", "take mug 2 from countertop 1"),
        ("turn on desklamp 1", "use desklamp 1"),
        ("look at countertop 1", "examine countertop 1"),
        ("go to fridge 1\nthen open it", "go to fridge 1"),
    ],
)
def test_variants_map_to_admissible(written: str, engine: str) -> None:
    assert normalize_command(written, ADMISSIBLE) == engine


def test_ambiguous_or_unknown_stays_cleaned() -> None:
    # two admissible "take apple 1 from ..." commands: no guess
    assert normalize_command("take apple 1", ADMISSIBLE) == "take apple 1"
    assert normalize_command("Put apple 1 in sink 1.", ADMISSIBLE) == "put apple 1 in sink 1"
    assert normalize_command("", ADMISSIBLE) == ""


def test_clean_command() -> None:
    assert clean_command("1. Go To Fridge 1!") == "go to fridge 1"
    assert clean_command("`look`") == "look"


# ---------------------------------------------------------------- the grammar

ENGINE_COMMANDS = [
    ("go to fridge 1", Command("go to", receptacle="fridge 1")),
    ("open drawer 2", Command("open", receptacle="drawer 2")),
    ("close drawer 2", Command("close", receptacle="drawer 2")),
    ("take apple 1 from countertop 1", Command("take", "apple 1", "countertop 1")),
    ("move apple 1 to fridge 1", Command("move", "apple 1", "fridge 1")),
    ("heat apple 1 with microwave 1", Command("heat", "apple 1", "microwave 1")),
    ("cool apple 1 with fridge 1", Command("cool", "apple 1", "fridge 1")),
    ("clean apple 1 with sinkbasin 1", Command("clean", "apple 1", "sinkbasin 1")),
    ("slice bread 1 with knife 1", Command("slice", "bread 1", tool="knife 1")),
    ("use desklamp 1", Command("use", "desklamp 1")),
    ("examine apple 1", Command("examine", "apple 1")),
    ("examine fridge 1", Command("examine", "fridge 1")),
    ("inventory", Command("inventory")),
    ("look", Command("look")),
    ("help", Command("help")),
]


@pytest.mark.parametrize(("text", "command"), ENGINE_COMMANDS)
def test_parse_and_format_every_verb(text: str, command: Command) -> None:
    assert parse_command(text) == command
    assert format_command(command) == text


def test_every_verb_is_covered() -> None:
    assert {c.verb for _, c in ENGINE_COMMANDS} == set(VERBS)


@pytest.mark.parametrize(
    "text",
    ["put apple 1 in/on fridge 1", "put apple 1 in fridge 1", "put apple 1 on fridge 1",
     "put apple 1 into fridge 1", "move apple 1 to fridge 1"],
)  # fmt: skip
def test_put_variants_are_the_engine_move(text: str) -> None:
    command = parse_command(text)
    assert command == Command("move", "apple 1", "fridge 1")
    assert format_command(command) == "move apple 1 to fridge 1"


@pytest.mark.parametrize(
    "text", ["", "dance", "go to", "take apple 1", "heat apple 1", "Go to fridge 1", "look around"]
)
def test_non_commands_parse_to_none(text: str) -> None:
    assert parse_command(text) is None


def test_names_are_split_at_the_first_preposition() -> None:
    assert parse_command("take soapbottle 2 from bathtubbasin 1") == Command(
        "take", "soapbottle 2", "bathtubbasin 1"
    )
    assert parse_command("move cellphone 3 to sidetable 1") == Command("move", "cellphone 3", "sidetable 1")


def test_target_is_what_the_command_is_about() -> None:
    targets = {text: command.target for text, command in ENGINE_COMMANDS}
    assert targets["take apple 1 from countertop 1"] == "countertop 1"
    assert targets["heat apple 1 with microwave 1"] == "microwave 1"
    assert targets["slice bread 1 with knife 1"] == "knife 1"
    assert targets["use desklamp 1"] == "desklamp 1"
    assert targets["look"] is None


def test_a_command_needs_what_its_verb_takes() -> None:
    with pytest.raises(CommandError, match="needs receptacle"):
        Command("take", "apple 1")
    with pytest.raises(CommandError, match="takes no tool"):
        Command("go to", receptacle="fridge 1", tool="knife 1")
    with pytest.raises(CommandError, match="expected one of"):
        Command("dance")  # type: ignore[arg-type]


def test_appliance_table() -> None:
    assert APPLIANCES == {"heat": "microwave", "cool": "fridge", "clean": "sinkbasin"}
