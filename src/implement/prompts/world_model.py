"""The unified world model's prompts: one served model, two modes chosen by a tag.

The first line of the user prompt is the mode tag: `[PER]` (perception: the new state
from what the environment answered) or `[PRE]` (prediction: the imagined next state).
Both modes share one system text that defines the symbolic state format, and both answer
with the state as one JSON object. `format="diff"` (`world_model.format`) asks both modes for
the compact diff instead (`implement.state.state_diff`: only what the action changes), under a
shorter system text, and shows the state as compact text (`implement.prompts.state_text`),
in `[PRE]` before the action: the predictions of one step then share their prompt up to it,
which a backend with a prefix cache reads once (`implement.llm.hf`).
These functions are the single source of the world model's prompt text: `LLMWorldModel` sends
them and the curate step builds training data from them, so a change here is a change of
`VERSION`.

`dialect="reference"` writes the layout of the paper's own code instead (for a checkpoint
trained on its curated data): the tag, a description of the state, then `name: value`
fields (`action`, `action_success`, `old_state`, `other_visible_receptacles`), states as
its Python literals (`implement.world_model.dialect`), and for `[PRE]` the MetaICL
conditions at the end as Python reprs of its lists (`[]` when empty). Its answers are
states in the same dialect. The field names and formats are the reference's; the
descriptions are our words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from implement.errors import ConfigError
from implement.llm.base import Message
from implement.metaicl import Conditions
from implement.prompts.state_text import render_state
from implement.state import SymbolicState, state_diff
from implement.world_model.dialect import (
    IMPLEMENT,
    REFERENCE,
    check_dialect,
    conditions_to_reference,
    reference_text,
)

VERSION = "wm-5"
STATE, DIFF = "state", "diff"  # the values of `world_model.format`
PER_TAG = "[PER]"
PRE_TAG = "[PRE]"

SYSTEM_TEXT = """\
You are the world model of an agent in a household environment (ALFWorld). You keep the \
agent's symbolic state: what it knows about the room, as one JSON object of this exact shape:

{"agent_location": "<receptacle>", "inventory": "<object>",
 "world_state": {"<receptacle>": {"visited": <bool>, "open": <bool or "N/A">, "objects": ["<object>", ...]}}}

- agent_location: the receptacle the agent last went to, or "middle of room" before its first move.
- inventory: the one object the agent holds, or "nothing".
- world_state: one entry per receptacle of the room, named with its number ("drawer 3").
  - visited: true once the agent has been at the receptacle or has seen into it.
  - open: true or false for receptacles that open and close (cabinet, drawer, fridge, \
microwave, safe); "N/A" for the others.
  - objects: the objects known to be in or on it, with their numbers ("apple 1"). \
A receptacle never seen inside lists only what the agent put there.
- An object's states are suffixes of its name, in this order: (hot) or (cool), (clean), \
(sliced), (on). Examples: "apple 1(hot)", "mug 2(cool)(clean)", "desklamp 1(on)". An object \
keeps its suffixes wherever it goes, the inventory included.
- A failed action ("Nothing happens.") changes nothing.

Answer with the JSON object only: double quotes, true/false, no comments and no other text."""

DIFF_SYSTEM_TEXT = """\
You are the world model of an agent in a household environment (ALFWorld). The state shows \
what the agent knows:
- "At:" where it last went ("middle of room" before its first move); "Holding:" the object it \
holds, or "nothing".
- "Not visited:" receptacles not seen yet, with what the agent put there; those that open and \
close (cabinet, drawer, fridge, microwave, safe) are closed.
- "Visited:" one receptacle a line: "(open)" or "(closed)" for those that open, then the objects \
known to be there, or "empty" ("unknown": closed and never seen inside).
- Object states are name suffixes, in this order: (hot) or (cool), (clean), (sliced), (on); \
e.g. "mug 2(cool)(clean)".

Answer with only what the action changes, as one JSON object: "agent_location" and "inventory" \
if they change, and under "world_state" each changed receptacle as {"visited": <bool>, "open": \
<true/false, or "N/A" for those that do not open>, "objects": [...]}. Leave out what stays the \
same: {} when nothing changes (a failed action, "Nothing happens."). Double quotes, no other text."""

_PER_TASK = """\
Perception. The agent took an action and the environment answered. Update the state with \
what the answer shows and give the new state."""

_PRE_TASK = """\
Prediction. Imagine the agent takes the action below from the current state, and give the \
state that would follow. Where the outcome is unknown (a receptacle never seen inside), \
imagine contents that are plausible for that receptacle in this room."""

_PER_TASK_DIFF = "Perception. The agent took an action and the environment answered: what changed?"

_PRE_TASK_DIFF = """\
Prediction. Imagine the agent takes the action below: what would change? Where the outcome is \
unknown (a receptacle never seen inside), imagine plausible contents for this room."""

_OPENABLE_NOTE = """\
Note: {receptacle} is closed and was never opened. Arriving there shows only that it is \
closed; also imagine what opening it would reveal, and list those objects under \
{receptacle} while keeping "open": false."""

_CONDITIONS_HEAD = "What earlier trials of this same task showed:"
_OBJECT_LISTS_HEAD = "Condition 1, objects seen in receptacles (types, without numbers):"
_FAILED_HEAD = "Condition 2, actions that failed, with their context:"


def _state_text(state: SymbolicState, format: str) -> str:
    """The state as the prompt shows it: the paper's JSON, or the compact text in `diff`."""
    return "\n" + render_state(state) if format == DIFF else " " + state.to_json()


def check_format(format: str, dialect: str = IMPLEMENT) -> str:
    """`format` if it is one of ours and `dialect` writes it; `ConfigError` otherwise."""
    if format not in (STATE, DIFF):
        raise ConfigError(f"unknown world-model format {format!r}; expected {STATE!r} or {DIFF!r}")
    if check_dialect(dialect) == REFERENCE and format == DIFF:
        raise ConfigError('the reference dialect has no diff format; use world_model.format = "state"')
    return format


def format_conditions(conditions: Conditions | None) -> str:
    """The MetaICL conditions as prompt text; "" when there are none."""
    if conditions is None or not (conditions.object_lists or conditions.failed_actions):
        return ""
    lines = [_CONDITIONS_HEAD]
    if conditions.object_lists:
        lines.append(_OBJECT_LISTS_HEAD)
        for receptacle, types in conditions.object_lists.items():
            lines.append(f"- {receptacle}: {', '.join(types) if types else 'nothing'}")
    if conditions.failed_actions:
        lines.append(_FAILED_HEAD)
        for failed in conditions.failed_actions:
            context = f"agent at {failed.agent_location}, holding {failed.inventory}"
            if failed.target_state is not None:
                context += f", target state {json.dumps(failed.target_state)}"
            lines.append(f"- {failed.action} ({context})")
    return "\n".join(lines)


def _user(text: str, frame: str | None) -> Message:
    if frame is None:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": frame}},
    ]
    return {"role": "user", "content": parts}


def perception_messages(
    prev: SymbolicState,
    action: str,
    observation: str,
    *,
    succeeded: bool,
    visible: Sequence[str] = (),
    frame: str | None = None,
    dialect: str = IMPLEMENT,
    format: str = STATE,
) -> list[Message]:
    """A `[PER]` request: the state after `action` (`format="diff"`: what changed), given the
    environment's answer.

    `frame` is an image URL (http(s) or a `data:image/...;base64,` URL) of the new view;
    with one, the observation text may be empty and the frame is sent as an image part.
    `visible` names the other receptacles the agent can see.
    """
    if check_format(format, dialect) == STATE and dialect == REFERENCE:
        return _reference_perception(prev, action, observation, succeeded, visible, frame)
    lines = [
        PER_TAG,
        _PER_TASK_DIFF if format == DIFF else _PER_TASK,
        f"Action: {action}",
        f"Succeeded: {'yes' if succeeded else 'no'}",
        f"State before the action:{_state_text(prev, format)}",
    ]
    if frame is None or observation:
        lines.append(f"Observation: {observation}")
    if frame is not None:
        lines.append("Observation: the attached image shows the view after the action.")
    lines.append(f"Other receptacles visible: {', '.join(visible) if visible else 'none'}")
    lines.append("Changes:" if format == DIFF else "New state:")
    return [_system(format), _user("\n".join(lines), frame)]


def prediction_messages(
    state: SymbolicState,
    action: str,
    conditions: Conditions | None = None,
    *,
    imagine_opened: str | None = None,
    dialect: str = IMPLEMENT,
    format: str = STATE,
) -> list[Message]:
    """A `[PRE]` request: the imagined state after `action` (`format="diff"`: what would change).

    `conditions` are the MetaICL conditions already selected for this action.
    `imagine_opened` names a closed, never opened receptacle the action goes to: the
    prediction then also imagines what opening it would show (listed, with open false).
    The reference's layout has no such note (it asks "open X" in a second request).
    """
    if check_format(format, dialect) == STATE and dialect == REFERENCE:
        return _reference_prediction(state, action, conditions)
    if format == DIFF:  # the state first: a step's predictions share their prompt up to the action
        lines = [PRE_TAG, _PRE_TASK_DIFF, f"Current state:{_state_text(state, format)}", f"Action: {action}"]
    else:
        lines = [PRE_TAG, _PRE_TASK, f"Action: {action}", f"Current state:{_state_text(state, format)}"]
    text = format_conditions(conditions)
    if text:
        lines.append(text)
    if imagine_opened is not None:
        lines.append(_OPENABLE_NOTE.format(receptacle=imagine_opened))
    lines.append("Changes:" if format == DIFF else "Next state:")
    return [_system(format), {"role": "user", "content": "\n".join(lines)}]


def _system(format: str) -> Message:
    return {"role": "system", "content": DIFF_SYSTEM_TEXT if format == DIFF else SYSTEM_TEXT}


def answer_message(
    state: SymbolicState, *, dialect: str = IMPLEMENT, diff_from: SymbolicState | None = None
) -> Message:
    """The assistant turn that answers either mode (for training data): `state`, or with
    `diff_from` (the `diff` format) the compact diff from that state to `state`."""
    if diff_from is not None:
        check_format(DIFF, dialect)
        text = json.dumps(state_diff(diff_from, state))
    else:
        text = reference_text(state) if check_dialect(dialect) == REFERENCE else state.to_json()
    return {"role": "assistant", "content": text}


# ---------------------------------------------------------------- the reference's layout

REFERENCE_SYSTEM_TEXT = "You are the world model of a household environment: you track its state."

_REFERENCE_STATE = """The state of the environment is a dictionary with these keys:
- "agent_location": where the agent is;
- "inventory": the object the agent holds, None if it holds nothing;
- "world_state": one entry per receptacle of the room, a dictionary with:
    - "visited": whether the agent has seen the objects in or on the receptacle;
    - "open": whether the receptacle is open, for receptacles that open and close;
    - "objects": the objects in or on the receptacle."""

_REFERENCE_PER_TASK = """\
You are told the action the agent took (action), whether it succeeded (action_success), \
the state before it (old_state), what the agent perceived afterwards, and, after a "go to", \
the other receptacles in view (other_visible_receptacles), whose object lists you update too. \
Give the updated state in the same format, without any explanation."""

_REFERENCE_PRE_TASK = """\
You are told the action the agent is about to take (action) and the state before it \
(old_state). Predict the state after the action and give it in the same format, without any \
explanation."""

_REFERENCE_CONDITION_1 = "Object lists of receptacles seen in earlier trajectories (receptacle, objects):"
_REFERENCE_CONDITION_2 = (
    "Actions that failed in earlier trajectories (action, agent location, inventory, "
    "state of the target receptacle):"
)


def _reference_perception(
    prev: SymbolicState,
    action: str,
    observation: str,
    succeeded: bool,
    visible: Sequence[str],
    frame: str | None,
) -> list[Message]:
    lines = [
        PER_TAG,
        _REFERENCE_STATE,
        "",
        _REFERENCE_PER_TASK,
        "",
        f"action: {action}",
        f"action_success: {succeeded}",
        f"old_state: {reference_text(prev)}",
        f"other_visible_receptacles: {list(visible)!r}",
    ]
    if frame is None or observation:
        lines.append(f"observation: {observation}")
    if frame is not None:
        lines += ["", "The new frame follows this text."]
    system: Message = {"role": "system", "content": REFERENCE_SYSTEM_TEXT}
    return [system, _user("\n".join(lines), frame)]


def _reference_prediction(state: SymbolicState, action: str, conditions: Conditions | None) -> list[Message]:
    object_lists, failed = conditions_to_reference(conditions or Conditions())
    lines = [
        PRE_TAG,
        _REFERENCE_STATE,
        "",
        _REFERENCE_PRE_TASK,
        "",
        f"action: {action}",
        f"old_state: {reference_text(state)}",
        "",
        _REFERENCE_CONDITION_1,
        repr(object_lists),
        "",
        _REFERENCE_CONDITION_2,
        repr(failed),
    ]
    return [
        {"role": "system", "content": REFERENCE_SYSTEM_TEXT},
        {"role": "user", "content": "\n".join(lines)},
    ]
