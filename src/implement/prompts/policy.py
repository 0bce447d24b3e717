"""The LLM policy's prompt: one round of policy iteration as a system and a user message.

The system text explains the household setting, the symbolic state and the answer: one
JSON object `{"thought", "help", "action", "proposals"}`. help = true asks the world
model to imagine the proposed actions first; help = false executes `action`. The user
message carries the round's inputs and closes with what this round allows: propose or
choose, choose now (`view.final`), or choose any admissible command (no imagination).
An unusable answer is followed by `reask_message`. A change of this text is a change of `VERSION`.
"""

from __future__ import annotations

from implement.agents.policy import PolicyView
from implement.llm.base import Message

VERSION = "policy-1"

SYSTEM_TEXT = """\
You control an agent in a text household (ALFWorld). The agent completes one task, such as \
finding an object, heating, cooling or cleaning it, and placing it in a receptacle, by typing \
one command per step. Commands that do not apply answer "Nothing happens." and waste a step.

What the agent knows is its symbolic state, a JSON object:
- agent_location: the receptacle it stands at ("middle of room" before its first move).
- inventory: the one object it holds, or "nothing".
- world_state: receptacle name -> {"visited": bool, "open": true/false or "N/A" (cannot be \
opened), "objects": the objects known to be there}. A receptacle not visited may hold anything.
- An object's states follow its name: "apple 1(hot)", "mug 2(cool)(clean)", "desklamp 1(on)".

A world model can imagine what an action would do before the agent executes it. An evaluated \
action comes with a belief: a summary of the imagined outcomes and how often each occurred.

Each round, answer with one JSON object and nothing else:
{"thought": "<brief reasoning>", "help": true or false, "action": "<command>" or null, \
"proposals": ["<command>", ...]}
- help true: the world model should imagine the commands in "proposals" first (new commands, \
copied from the admissible list); "action" is null.
- help false: the agent executes "action" now; "proposals" is [].
Copy commands exactly as written in the lists you are given."""


def _history(view: PolicyView) -> str:
    if not view.history:
        return "(none yet)"
    return "\n".join(
        f"{i}. {action} ({'succeeded' if ok else 'failed: nothing happened'})"
        for i, (action, ok) in enumerate(view.history, 1)
    )


def _evaluated(view: PolicyView) -> str:
    if not view.evaluated:
        return "(none yet)"
    return "\n".join(f"- {action}: {belief.text}" for action, belief in view.evaluated.items())


def _instruction(view: PolicyView, max_proposals: int) -> str:
    if not view.imagination:
        return (
            "There is no world model in this run: choose the command to execute now. "
            'Answer with "help": false and an "action" copied from the admissible commands.'
        )
    if view.final:
        return (
            "This is the last round: choose now. "
            'Answer with "help": false and an "action" copied from the evaluated actions.'
        )
    choose = (
        ', or choose: "help": false and an "action" copied from the evaluated actions'
        if view.evaluated
        else " (nothing is evaluated yet, so propose)"
    )
    return (
        f'Either propose: "help": true and up to {max_proposals} admissible commands not evaluated '
        f'yet in "proposals"{choose}.'
    )


def policy_messages(view: PolicyView, max_proposals: int) -> list[Message]:
    """The request for one round of policy iteration (see the module docstring)."""
    lines = [
        f"Goal: {view.goal}",
        f"Actions executed so far:\n{_history(view)}",
        f"Current state: {view.state.to_json()}",
        "Admissible commands:\n" + "\n".join(f"- {command}" for command in view.admissible),
    ]
    if view.imagination:
        lines.append(f"Evaluated actions (imagined by the world model):\n{_evaluated(view)}")
    lines.append(f"Round {view.round}. {_instruction(view, max_proposals)}")
    return [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "\n\n".join(lines)}]


def reask_message(error: str) -> str:
    """The user message after an unusable answer: what is wrong with it, and to answer again."""
    return f"Your answer cannot be used: {error}. Answer again with one JSON object as described."


__all__ = ["SYSTEM_TEXT", "VERSION", "policy_messages", "reask_message"]
