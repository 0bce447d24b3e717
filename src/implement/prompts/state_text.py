"""The compact state text that the LLM policy and the `diff` world model's prompts show::

    At: countertop 1. Holding: apple 1(hot).
    Not visited: cabinet 1, drawer 2, shelf 1
    Visited:
    countertop 1: knife 1, mug 2(clean)
    fridge 1 (closed): unknown
    microwave 1 (open): empty

It keeps what the symbolic state holds (a receptacle that opens and was never visited is
closed; "unknown" and "empty" both stand for no objects known) in about a third of the JSON's
tokens. A change here is a change of `VERSION`.
"""

from __future__ import annotations

from implement.state import NA, ReceptacleState, SymbolicState

VERSION = "state-1"


def _receptacle_line(name: str, receptacle: ReceptacleState) -> str:
    opened = "" if receptacle.open == NA else " (open)" if receptacle.open else " (closed)"
    if receptacle.objects:
        contents = ", ".join(receptacle.objects)
    else:
        contents = "unknown" if receptacle.open is False else "empty"
    return f"{name}{opened}: {contents}"


def render_state(state: SymbolicState) -> str:
    """The compact state (see the module docstring); receptacles in the state's order."""
    lines = [f"At: {state.agent_location}. Holding: {state.inventory}."]
    unvisited = [
        name + (f" (holds {' and '.join(r.objects)})" if r.objects else "")
        for name, r in state.world_state.items()
        if not r.visited
    ]
    if unvisited:
        lines.append("Not visited: " + ", ".join(unvisited))
    visited = [_receptacle_line(name, r) for name, r in state.world_state.items() if r.visited]
    if visited:
        lines.append("Visited:\n" + "\n".join(visited))
    return "\n".join(lines)
