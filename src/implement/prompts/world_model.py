"""The unified world model's prompts: one served model, two modes chosen by a tag.

The first line of the user prompt is the mode tag: `[PER]` (perception: the new state
from what the environment answered) or `[PRE]` (prediction: the imagined next state).
Both modes share one system text that defines the symbolic state format, and both answer
with the state as one JSON object. These functions are the single source of the world
model's prompt text: `LLMWorldModel` sends them and the curate step builds training data
from them, so a change here is a change of `VERSION`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from implement.llm.base import Message
from implement.metaicl import Conditions
from implement.state import SymbolicState

VERSION = "wm-1"
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

_PER_TASK = """\
Perception. The agent took an action and the environment answered. Update the state with \
what the answer shows and give the new state."""

_PRE_TASK = """\
Prediction. Imagine the agent takes the action below from the current state, and give the \
state that would follow. Where the outcome is unknown (a receptacle never seen inside), \
imagine contents that are plausible for that receptacle in this room."""

_OPENABLE_NOTE = """\
Note: {receptacle} is closed and was never opened. Arriving there shows only that it is \
closed; also imagine what opening it would reveal, and list those objects under \
{receptacle} while keeping "open": false."""

_CONDITIONS_HEAD = "What earlier trials of this same task showed:"
_OBJECT_LISTS_HEAD = "Condition 1, objects seen in receptacles (types, without numbers):"
_FAILED_HEAD = "Condition 2, actions that failed, with their context:"


def _state_json(state: SymbolicState) -> str:
    return state.to_json()


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
) -> list[Message]:
    """A `[PER]` request: the state after `action`, given the environment's answer.

    `frame` is an image URL (http(s) or a `data:image/...;base64,` URL) of the new view;
    with one, the observation text may be empty and the frame is sent as an image part.
    `visible` names the other receptacles the agent can see.
    """
    lines = [
        PER_TAG,
        _PER_TASK,
        f"Action: {action}",
        f"Succeeded: {'yes' if succeeded else 'no'}",
        f"State before the action: {_state_json(prev)}",
    ]
    if frame is None or observation:
        lines.append(f"Observation: {observation}")
    if frame is not None:
        lines.append("Observation: the attached image shows the view after the action.")
    lines.append(f"Other receptacles visible: {', '.join(visible) if visible else 'none'}")
    lines.append("New state:")
    return [{"role": "system", "content": SYSTEM_TEXT}, _user("\n".join(lines), frame)]


def prediction_messages(
    state: SymbolicState,
    action: str,
    conditions: Conditions | None = None,
    *,
    imagine_opened: str | None = None,
) -> list[Message]:
    """A `[PRE]` request: the imagined state after `action`.

    `conditions` are the MetaICL conditions already selected for this action.
    `imagine_opened` names a closed, never opened receptacle the action goes to: the
    prediction then also imagines what opening it would show (listed, with open false).
    """
    lines = [PRE_TAG, _PRE_TASK, f"Action: {action}", f"Current state: {_state_json(state)}"]
    text = format_conditions(conditions)
    if text:
        lines.append(text)
    if imagine_opened is not None:
        lines.append(_OPENABLE_NOTE.format(receptacle=imagine_opened))
    lines.append("Next state:")
    return [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "\n".join(lines)}]


def answer_message(state: SymbolicState) -> Message:
    """The assistant turn that answers either mode (for training data)."""
    return {"role": "assistant", "content": _state_json(state)}
