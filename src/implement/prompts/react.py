"""The ReAct and Reflexion prompts: instructions, one solved example per task type, reflections.

A ReAct request is a system message (the instructions) and a user message holding the
solved example of the episode's task type, the reflections of earlier trials (Reflexion
only) and the episode's transcript so far; the model answers one line, a thought
("think: ...") or a command. A Reflexion request shows a failed transcript and asks what
went wrong and a plan. The examples were written for this package in ALFWorld's text style.
A change of this text is a change of `VERSION`.
"""

from __future__ import annotations

from collections.abc import Sequence

from implement.errors import UnknownNameError
from implement.llm.base import Message

VERSION = "react-1"

SYSTEM_TEXT = """\
You control an agent in a text household (ALFWorld) and complete the task given at the start \
of the episode. Each turn, write exactly one line:
- a thought, starting with "think:", to reason about the task or plan the next steps; the game \
answers "OK." and nothing changes;
- or one command for the game, such as "go to cabinet 1", "open fridge 1", "take apple 1 from \
countertop 1", "move apple 1 to fridge 1", "heat apple 1 with microwave 1", "cool apple 1 with \
fridge 1", "clean apple 1 with sinkbasin 1", "use desklamp 1", "examine apple 1", "look" or \
"inventory". A command that does not apply answers "Nothing happens."
Write only that line, with no explanation."""

REFLECTION_SYSTEM_TEXT = """\
You review an attempt of an agent at a task in a text household (ALFWorld). Thoughts start \
with "think:", commands with "> ", and the game's answer follows each command."""

EXAMPLES: dict[str, str] = {
    "pick_and_place_simple": """\
You are in the middle of a room. Looking quickly around you, you see a bed 1, a desk 1, a drawer 2, \
a drawer 1, a garbagecan 1, a shelf 2, a shelf 1, and a sidetable 1.

Your task is to: put some book on sidetable.
> think: I need to find a book, take it, and put it on the sidetable 1. A book is likely on the desk \
1, a shelf or the bed 1.
OK.
> go to desk 1
You arrive at desk 1. On the desk 1, you see a alarmclock 1, a laptop 1, and a pen 2.
> think: There is no book on the desk 1. Next I check the shelves.
OK.
> go to shelf 1
You arrive at shelf 1. On the shelf 1, you see a book 2, and a vase 1.
> take book 2 from shelf 1
You pick up the book 2 from the shelf 1.
> go to sidetable 1
You arrive at sidetable 1. On the sidetable 1, you see a keychain 1.
> move book 2 to sidetable 1
You move the book 2 to the sidetable 1.""",
    "look_at_obj_in_light": """\
You are in the middle of a room. Looking quickly around you, you see a armchair 1, a cabinet 1, \
a drawer 1, a dresser 1, a shelf 1, and a sidetable 1.

Your task is to: examine the bowl with the desklamp.
> think: First I need a bowl; then I find the desklamp and turn it on while I hold the bowl. A bowl \
may be on the shelf 1, the dresser 1 or in the cabinet 1.
OK.
> go to shelf 1
You arrive at shelf 1. On the shelf 1, you see a creditcard 1.
> go to dresser 1
You arrive at dresser 1. On the dresser 1, you see a bowl 1, a desklamp 1, and a statue 1.
> take bowl 1 from dresser 1
You pick up the bowl 1 from the dresser 1.
> think: I hold the bowl 1 and the desklamp 1 is right here, so I turn it on.
OK.
> use desklamp 1
You turn on the desklamp 1.""",
    "pick_clean_then_place_in_recep": """\
You are in the middle of a room. Looking quickly around you, you see a cabinet 2, a cabinet 1, \
a countertop 2, a countertop 1, a drawer 1, a fridge 1, a sinkbasin 1, and a stoveburner 1.

Your task is to: clean some spatula and put it in drawer.
> think: I need a spatula, to clean it with the sinkbasin 1, then to put it in a drawer. A spatula \
is usually on a countertop or in a drawer.
OK.
> go to countertop 1
You arrive at countertop 1. On the countertop 1, you see a bread 1, and a saltshaker 1.
> go to countertop 2
You arrive at countertop 2. On the countertop 2, you see a knife 1, and a spatula 1.
> take spatula 1 from countertop 2
You pick up the spatula 1 from the countertop 2.
> go to sinkbasin 1
You arrive at sinkbasin 1. On the sinkbasin 1, you see nothing.
> clean spatula 1 with sinkbasin 1
You clean the spatula 1 using the sinkbasin 1.
> think: The spatula 1 is clean. Now I put it in the drawer 1.
OK.
> go to drawer 1
You arrive at drawer 1. The drawer 1 is closed.
> open drawer 1
You open the drawer 1. The drawer 1 is open. In it, you see a fork 1.
> move spatula 1 to drawer 1
You move the spatula 1 to the drawer 1.""",
    "pick_heat_then_place_in_recep": """\
You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a countertop 1, \
a diningtable 1, a fridge 1, a garbagecan 1, a microwave 1, and a sinkbasin 1.

Your task is to: put a hot potato in diningtable.
> think: I must find a potato, heat it with the microwave 1, then put it on the diningtable 1. \
A potato may be in the fridge 1 or on the countertop 1.
OK.
> go to fridge 1
You arrive at fridge 1. The fridge 1 is closed.
> open fridge 1
You open the fridge 1. The fridge 1 is open. In it, you see a egg 2, and a potato 1.
> take potato 1 from fridge 1
You pick up the potato 1 from the fridge 1.
> go to microwave 1
You arrive at microwave 1. The microwave 1 is closed.
> heat potato 1 with microwave 1
You heat the potato 1 using the microwave 1.
> go to diningtable 1
You arrive at diningtable 1. On the diningtable 1, you see a lettuce 1, and a plate 1.
> move potato 1 to diningtable 1
You move the potato 1 to the diningtable 1.""",
    "pick_cool_then_place_in_recep": """\
You are in the middle of a room. Looking quickly around you, you see a cabinet 2, a cabinet 1, \
a countertop 1, a fridge 1, a shelf 1, a sinkbasin 1, and a toaster 1.

Your task is to: put a cool mug in shelf.
> think: I need a mug, to cool it with the fridge 1, then to put it on the shelf 1. A mug is likely \
in a cabinet or on the countertop 1.
OK.
> go to countertop 1
You arrive at countertop 1. On the countertop 1, you see a bread 1, and a knife 1.
> go to cabinet 1
You arrive at cabinet 1. The cabinet 1 is closed.
> open cabinet 1
You open the cabinet 1. The cabinet 1 is open. In it, you see a mug 3.
> take mug 3 from cabinet 1
You pick up the mug 3 from the cabinet 1.
> go to fridge 1
You arrive at fridge 1. The fridge 1 is closed.
> cool mug 3 with fridge 1
You cool the mug 3 using the fridge 1.
> go to shelf 1
You arrive at shelf 1. On the shelf 1, you see a cup 1.
> move mug 3 to shelf 1
You move the mug 3 to the shelf 1.""",
    "pick_two_obj_and_place": """\
You are in the middle of a room. Looking quickly around you, you see a bathtubbasin 1, a cabinet 1, \
a countertop 1, a garbagecan 1, a sinkbasin 1, a toilet 1, and a towelholder 1.

Your task is to: find two soapbar and put them in cabinet.
> think: I need two soapbars, carried one at a time, each put in the cabinet 1. Soapbars may be on \
the countertop 1, the toilet 1 or the bathtubbasin 1.
OK.
> go to countertop 1
You arrive at countertop 1. On the countertop 1, you see a soapbar 1, and a spraybottle 1.
> take soapbar 1 from countertop 1
You pick up the soapbar 1 from the countertop 1.
> go to cabinet 1
You arrive at cabinet 1. The cabinet 1 is closed.
> open cabinet 1
You open the cabinet 1. The cabinet 1 is open. In it, you see a toiletpaper 1.
> move soapbar 1 to cabinet 1
You move the soapbar 1 to the cabinet 1.
> think: One soapbar is in the cabinet 1. For the second one, I have not checked the toilet 1 yet.
OK.
> go to toilet 1
You arrive at toilet 1. On the toilet 1, you see a soapbar 2.
> take soapbar 2 from toilet 1
You pick up the soapbar 2 from the toilet 1.
> go to cabinet 1
You arrive at cabinet 1. The cabinet 1 is open. In it, you see a soapbar 1, and a toiletpaper 1.
> move soapbar 2 to cabinet 1
You move the soapbar 2 to the cabinet 1.""",
}

REFLECTIONS_HEAD = "Your reflections from earlier trials:"
NEXT_LINE = "Write your next line."
REFLECT = (
    "The task was not completed within {steps} steps. In two or three sentences, say what went wrong "
    "and give a concrete plan for your next attempt at this same task."
)


def example_for(task_type: str) -> str:
    """The solved example shown for episodes of `task_type`."""
    if task_type not in EXAMPLES:
        raise UnknownNameError("ALFWorld task type", task_type, list(EXAMPLES))
    return EXAMPLES[task_type]


def react_messages(task_type: str, transcript: str, reflections: Sequence[str] = ()) -> list[Message]:
    """The request for the next line of an episode (see the module docstring)."""
    parts = [f"Here is an example of a solved task:\n{example_for(task_type)}"]
    if reflections:
        parts.append(REFLECTIONS_HEAD + "\n" + "\n".join(f"- {r}" for r in reflections))
    parts.append(f"Here is your task, so far:\n{transcript}\n\n{NEXT_LINE}")
    return [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "\n\n".join(parts)}]


def reflection_messages(transcript: str, steps: int) -> list[Message]:
    """The request for a reflection on a failed episode."""
    user = f"Here is the attempt:\n{transcript}\n\n{REFLECT.format(steps=steps)}"
    return [{"role": "system", "content": REFLECTION_SYSTEM_TEXT}, {"role": "user", "content": user}]


__all__ = [
    "EXAMPLES",
    "REFLECTIONS_HEAD",
    "SYSTEM_TEXT",
    "VERSION",
    "example_for",
    "react_messages",
    "reflection_messages",
]
