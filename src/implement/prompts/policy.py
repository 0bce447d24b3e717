"""The LLM policy's prompt: one round of policy iteration as a system and a user message.

The system text (the same for every request) explains the household setting, the compact
state and the answer: one JSON object `{"thought", "help", "action", "proposals"}`.
help = true asks the world model to imagine the proposed actions first; help = false
executes `action`. The user message is ordered for prompt caches (llama.cpp's prefix
reuse, OpenAI's automatic cache): what is fixed for the episode first (the goal), then what
only grows (the executed actions), then what changes each step (the state, the admissible
commands), then what changes each round (the evaluated actions, the round's instruction:
propose or choose, choose now (`view.final`), or choose any admissible command without
imagination). An unusable answer is followed by `reask_message`.

The state is shown compactly (`implement.prompts.state_text`), not as the paper's JSON.
A change of this text is a change of `VERSION`.
"""

from __future__ import annotations

from implement.agents.policy import PolicyView
from implement.llm.base import Message
from implement.prompts.state_text import render_state

VERSION = "policy-2"

SYSTEM_TEXT = """\
You control an agent in a text household (ALFWorld). The agent completes one task, such as \
finding an object, heating, cooling or cleaning it, and placing it in a receptacle, by typing \
one command per step. Commands that do not apply answer "Nothing happens." and waste a step.

The executed commands are numbered; "(failed)" marks one that answered "Nothing happens." \
What the agent knows now:
- "At:" where it stands ("middle of room" before its first move); "Holding:" the one object it \
holds, or "nothing".
- "Not visited:" receptacles not seen yet; they may hold anything.
- "Visited:" one receptacle a line: "(open)" or "(closed)" for those that open, then the objects \
known to be there, or "empty" ("unknown": closed and never seen inside).
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
        f"{i}. {action}{'' if ok else ' (failed)'}" for i, (action, ok) in enumerate(view.history, 1)
    )


def _evaluated(view: PolicyView) -> str:
    if not view.evaluated:
        return "(none yet)"
    return "\n".join(
        f"- {action}: {belief.text.removeprefix(action).removeprefix(':').strip()}"  # the action once
        for action, belief in view.evaluated.items()
    )


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
    """The request for one round of policy iteration (see the module docstring for the order)."""
    sections = [
        f"Goal: {view.goal}",  # fixed for the episode
        f"Actions executed so far:\n{_history(view)}",  # append-only
        f"Current state:\n{render_state(view.state)}",  # changes each step
        "Admissible commands:\n" + "\n".join(view.admissible),
    ]
    if view.imagination:  # changes each round
        sections.append(f"Evaluated actions (imagined by the world model):\n{_evaluated(view)}")
    sections.append(f"Round {view.round}. {_instruction(view, max_proposals)}")
    return [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "\n\n".join(sections)}]


def reask_message(error: str) -> str:
    """The user message after an unusable answer: what is wrong with it, and to answer again."""
    return f"Your answer cannot be used: {error}. Answer again with one JSON object as described."


__all__ = ["SYSTEM_TEXT", "VERSION", "policy_messages", "reask_message"]
