"""Multi-step imagination (beyond the paper; off by default): look further than one step.

Each imagined outcome of an evaluated action is rolled `depth` more steps forward on the
world model, the planner picking every step from the commands the imagined state allows
(`imagined_commands`), and the end state is scored against the goal (`goal_progress`,
from 0 to 1). The belief of the action carries the mean score (`lookahead`).
"""

from __future__ import annotations

from implement.agents.goals import Goal
from implement.agents.planner import plan_step
from implement.envs.commands import APPLIANCES, Command, format_command
from implement.metaicl import Conditions
from implement.state import SymbolicState, base_name, object_states, object_type, receptacle_type
from implement.world_model.base import WorldModel

_TREATMENTS = {appliance: verb for verb, appliance in APPLIANCES.items()}
_LAMPS = ("desklamp", "floorlamp")


def imagined_commands(state: SymbolicState) -> tuple[str, ...]:
    """The commands ALFWorld would admit in `state`, as far as the state tells."""
    here, held = state.agent_location, state.holding
    commands = [Command("go to", receptacle=name) for name in state.world_state if name != here]
    rec = state.world_state.get(here)
    if rec is None:
        return tuple(map(format_command, commands))
    if rec.open is not False:
        objects = [base_name(o) for o in rec.objects]
        if held is None:
            commands += [Command("take", o, here) for o in objects]
        else:
            commands.append(Command("move", held, here))
        commands += [Command("use", o) for o in objects if object_type(o) in _LAMPS]
    if rec.open is False:
        commands.append(Command("open", receptacle=here))
    else:
        commands.append(Command("close", receptacle=here) if rec.open is True else Command("look"))
    verb = _TREATMENTS.get(receptacle_type(here))
    if held is not None and verb is not None:
        commands.append(Command(verb, held, here))
    return tuple(map(format_command, commands))


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
    """`goal_progress` after `depth` imagined planner steps from `state` (one sample each)."""
    for _ in range(depth):
        if goal_progress(goal, state) == 1.0:
            break
        action = plan_step(goal, state, imagined_commands(state))
        if action is None:
            break
        predicted = await world_model.predict(state, action, conditions, n=1)
        if not predicted:
            break
        state = predicted[0]
    return goal_progress(goal, state)


__all__ = ["goal_progress", "imagined_commands", "lookahead"]
