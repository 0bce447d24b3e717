"""Hand-written ALFWorld transcripts shared by the state and perception tests."""

from __future__ import annotations

from implement.state import SymbolicState
from implement.world_model.perception import initial_state, update_state

INTRO = (
    "-= Welcome to TextWorld, ALFRED! =-\n\n"
    "You are in the middle of a room. Looking quickly around you, you see a cabinet 2, a cabinet 1, "
    "a countertop 1, a drawer 1, a fridge 1, a microwave 1, a shelf 1, a sinkbasin 1, "
    "and a stoveburner 1.\n\n"
    "Your task is to: put a hot apple in fridge."
)


def start() -> SymbolicState:
    return initial_state(INTRO)


def play(state: SymbolicState, *steps: tuple[str, str]) -> SymbolicState:
    for action, observation in steps:
        state = update_state(state, action, observation)
    return state


ARRIVE_COUNTER = (
    "go to countertop 1",
    "You arrive at countertop 1. On the countertop 1, you see a apple 1, a knife 1, and a mug 2.",
)
ARRIVE_FRIDGE = ("go to fridge 1", "You arrive at fridge 1. The fridge 1 is closed.")
OPEN_FRIDGE = (
    "open fridge 1",
    "You open the fridge 1. The fridge 1 is open. In it, you see a egg 2, and a lettuce 1.",
)
TAKE_APPLE = ("take apple 1 from countertop 1", "You pick up the apple 1 from the countertop 1.")
