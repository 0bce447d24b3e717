"""The goal of an ALFWorld task, parsed from its sentence ("put a clean apple in fridge.").

ALFWorld writes each of its six task types with two templates; `parse_goal` reads all
twelve. Object and receptacle words are the engine's types ("butterknife", "countertop").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from implement.envs.commands import APPLIANCES, Treatment
from implement.errors import ImplementError

_STATE_OF: dict[Treatment, str] = {"heat": "hot", "cool": "cool", "clean": "clean"}

_TEMPLATES: tuple[tuple[str, str, Treatment | None, int], ...] = (
    # (regex over the goal, task type, treatment, objects to place)
    (r"put a clean (?P<o>\w+) in (?P<r>\w+)", "pick_clean_then_place_in_recep", "clean", 1),
    (r"clean some (?P<o>\w+) and put it in (?P<r>\w+)", "pick_clean_then_place_in_recep", "clean", 1),
    (r"put a hot (?P<o>\w+) in (?P<r>\w+)", "pick_heat_then_place_in_recep", "heat", 1),
    (r"heat some (?P<o>\w+) and put it in (?P<r>\w+)", "pick_heat_then_place_in_recep", "heat", 1),
    (r"put a cool (?P<o>\w+) in (?P<r>\w+)", "pick_cool_then_place_in_recep", "cool", 1),
    (r"cool some (?P<o>\w+) and put it in (?P<r>\w+)", "pick_cool_then_place_in_recep", "cool", 1),
    (r"put two (?P<o>\w+) in (?P<r>\w+)", "pick_two_obj_and_place", None, 2),
    (r"find two (?P<o>\w+) and put them in (?P<r>\w+)", "pick_two_obj_and_place", None, 2),
    (r"look at (?P<o>\w+) under the (?P<r>\w+)", "look_at_obj_in_light", None, 0),
    (r"examine the (?P<o>\w+) with the (?P<r>\w+)", "look_at_obj_in_light", None, 0),
    (r"put (?:a|some) (?P<o>\w+) (?:in|on) (?P<r>\w+)", "pick_and_place_simple", None, 1),
)


class GoalParseError(ImplementError):
    """The task sentence is none of ALFWorld's templates."""


@dataclass(frozen=True)
class Goal:
    """What must hold at the end: `count` objects of `object_type` (treated) in a `receptacle_type`,
    or, for look-at tasks (`count` 0), the object held under a turned-on `lamp_type`."""

    task_type: str
    object_type: str
    receptacle_type: str | None = None
    treatment: Treatment | None = None
    count: int = 1
    lamp_type: str | None = None

    @property
    def appliance_type(self) -> str | None:
        return APPLIANCES[self.treatment] if self.treatment else None

    @property
    def required_state(self) -> str | None:
        """The word the state shows on a treated object ("hot", "cool", "clean")."""
        return _STATE_OF[self.treatment] if self.treatment else None


def parse_goal(sentence: str) -> Goal:
    """The goal of a task sentence, with or without ALFWorld's "Your task is to: " prefix."""
    text = " ".join(sentence.lower().split()).rstrip(".")
    text = text.split("your task is to:")[-1].strip()
    for pattern, task_type, treatment, count in _TEMPLATES:
        match = re.fullmatch(pattern, text)
        if match is None:
            continue
        obj, other = match.group("o"), match.group("r")
        if task_type == "look_at_obj_in_light":
            return Goal(task_type, obj, count=0, lamp_type=other)
        return Goal(task_type, obj, other, treatment, count)
    raise GoalParseError(f"not an ALFWorld task sentence: {sentence!r}")


__all__ = ["Goal", "GoalParseError", "parse_goal"]
