"""Command normalization: the forms LLMs write map onto the engine's admissible commands."""

from __future__ import annotations

import pytest

from implement.envs.commands import clean_command, normalize_command

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
