"""Multi-step imagination (beyond the paper; off by default): look further than one step.

Each imagined outcome of an evaluated action is rolled `depth` more steps forward on the
world model, the planner picking every step from the commands the imagined state allows
(`implement.envs.admissible`), and the end state is scored against the goal (`goal_progress`,
from 0 to 1). The belief of the action carries the mean score (`lookahead`).
"""

from __future__ import annotations

from implement.agents.goals import Goal
from implement.agents.planner import plan_step
from implement.envs.admissible import derive_admissible_commands, type_facts
from implement.metaicl import Conditions
from implement.state import SymbolicState, object_states, object_type, receptacle_type
from implement.world_model.base import WorldModel


def goal_progress(goal: Goal, state: SymbolicState) -> float:
    """How far `state` is along the goal: 1 when it holds, partial credit for seeing,
    holding and treating the objects (and, for look-at tasks, for a lamp turned on)."""
    if goal.count == 0:
        held = state.holding is not None and object_type(state.holding) == goal.object_type
        lamp_on = any(
            object_type(o) == goal.lamp_type and "on" in object_states(o)
            for o in state.receptacle(state.agent_location).objects
        )
        return 0.5 * held + 0.5 * (held and lamp_on)
    scores = [
        _object_progress(goal, state, entry, name)
        for name, rec in state.world_state.items()
        for entry in rec.objects
    ]
    if state.holding is not None:
        scores.append(_object_progress(goal, state, state.inventory, None))
    best = sorted(scores, reverse=True)[: goal.count]
    return sum(best) / goal.count


def _object_progress(goal: Goal, state: SymbolicState, entry: str, where: str | None) -> float:
    if object_type(entry) != goal.object_type:
        return 0.0
    treated = goal.required_state is None or goal.required_state in object_states(entry)
    if where is not None and receptacle_type(where) == goal.receptacle_type and treated:
        return 1.0
    if where is None:  # held
        return 0.75 if treated and goal.required_state else 0.5
    return 0.25  # seen


async def lookahead(
    world_model: WorldModel, goal: Goal, state: SymbolicState, depth: int, conditions: Conditions | None
) -> float:
    """`goal_progress` after `depth` imagined planner steps from `state` (one sample each), on the
    commands the imagined state admits (judged with a symbolic world model's fitted counts, or the
    packaged ones)."""
    counts = type_facts(world_model)
    for _ in range(depth):
        if goal_progress(goal, state) == 1.0:
            break
        action = plan_step(goal, state, derive_admissible_commands(state, counts))
        if action is None:
            break
        predicted = await world_model.predict(state, action, conditions, n=1)
        if not predicted:
            break
        state = predicted[0]
    return goal_progress(goal, state)


__all__ = ["goal_progress", "lookahead"]
