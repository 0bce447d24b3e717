"""Belief summaries: what the world model's imagined outcomes of one action say, and how sure.

The exact summary counts the samples: how often the action changes anything, where the
agent ends up, what it holds, and which object types each changed receptacle shows. It
is the default (no LLM needed) and what the planner reads; its `text` is what an LLM
policy reads. The paper's LLM summarizer writes the same kind of text from the samples
(`llm_belief`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from implement.llm.base import ChatModel
from implement.prompts.belief import summary_messages
from implement.state import SymbolicState, diff_states, object_type


@dataclass
class Belief:
    """The imagined outcomes of one action, summarized."""

    action: str
    samples: int
    p_changes: float = 0.0  # share of samples in which the state changes at all
    locations: dict[str, float] = field(default_factory=dict)  # where the agent ends up
    inventory: dict[str, float] = field(default_factory=dict)  # what it holds afterwards
    contents: dict[str, dict[str, float]] = field(
        default_factory=dict
    )  # changed receptacle -> object type -> share of samples showing one there
    outcomes: list[tuple[dict[str, Any], int]] = field(default_factory=list)  # distinct diffs, count
    text: str = ""
    summary_error: str | None = None  # why the LLM summarizer's text is missing, if it failed
    lookahead: float | None = None  # mean goal progress a few imagined steps further (multi-step)

    def p_shows(self, receptacle: str, kind: str) -> float:
        """Share of samples in which `receptacle` shows an object of type `kind`."""
        return self.contents.get(receptacle, {}).get(kind, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "samples": self.samples,
            "p_changes": self.p_changes,
            "locations": self.locations,
            "inventory": self.inventory,
            "contents": self.contents,
            "outcomes": [{"diff": d, "count": c} for d, c in self.outcomes],
            "text": self.text,
            "summary_error": self.summary_error,
            "lookahead": self.lookahead,
        }


def _shares(counts: Counter[str], n: int) -> dict[str, float]:
    return {k: round(v / n, 3) for k, v in counts.most_common()}


def exact_belief(state: SymbolicState, action: str, samples: list[SymbolicState]) -> Belief:
    """Count the samples (see the module docstring)."""
    n = len(samples)
    if n == 0:
        return Belief(action, 0, text=f"{action}: the world model could not imagine this action.")
    diffs = [diff_states(state, s) for s in samples]
    distinct: Counter[str] = Counter(json.dumps(d, sort_keys=True) for d in diffs)
    changed_receptacles = {
        name for s in samples for name, rec in s.world_state.items() if rec != state.world_state.get(name)
    }
    contents: dict[str, dict[str, float]] = {}
    for name in sorted(changed_receptacles):
        kinds: Counter[str] = Counter()
        for s in samples:
            kinds.update({object_type(o) for o in s.receptacle(name).objects})
        contents[name] = _shares(kinds, n)
    belief = Belief(
        action=action,
        samples=n,
        p_changes=round(sum(1 for d in diffs if d) / n, 3),
        locations=_shares(Counter(s.agent_location for s in samples), n),
        inventory=_shares(Counter(s.inventory for s in samples), n),
        contents=contents,
        outcomes=[(json.loads(d), c) for d, c in distinct.most_common()],
    )
    belief.text = _describe(state, belief)
    return belief


def _describe(state: SymbolicState, belief: Belief) -> str:
    n = belief.samples
    if belief.p_changes == 0:
        return f"{belief.action}: nothing happens ({n}/{n} imagined outcomes)."
    parts = [f"{belief.action} ({n} imagined outcome{'s' if n > 1 else ''})"]
    if belief.p_changes < 1:
        parts.append(f"nothing happens in {round((1 - belief.p_changes) * 100)}%")
    for where, share in belief.locations.items():
        if where != state.agent_location:
            parts.append(f"you are at {where} ({round(share * 100)}%)")
    for held, share in belief.inventory.items():
        if held != state.inventory:
            parts.append(f"you hold {held} ({round(share * 100)}%)")
    for name, kinds in belief.contents.items():
        seen = ", ".join(f"{k} {round(v * 100)}%" for k, v in kinds.items()) or "nothing"
        parts.append(f"{name} shows: {seen}")
    return "; ".join(parts) + "."


async def llm_belief(
    chat_model: ChatModel,
    state: SymbolicState,
    action: str,
    samples: list[SymbolicState],
    *,
    max_tokens: int,
    temperature: float = 0.0,
) -> Belief:
    """The exact counts, with `text` written by an LLM from them (the paper's summarizer).

    An answer with no completion keeps the exact text (recorded in `summary_error`); a request
    that fails for good raises its `LLMError`: the episode is an error, never a guessed belief.
    """
    belief = exact_belief(state, action, samples)
    if belief.samples == 0:
        return belief
    messages = summary_messages(action, belief.outcomes, belief.samples)
    try:
        (completion, *_) = await chat_model.chat(
            messages, n=1, temperature=temperature, max_tokens=max_tokens
        )
    except ValueError as exc:  # no completion came back
        belief.summary_error = str(exc)
        return belief
    if completion.text.strip():
        belief.text = f"{action}: {completion.text.strip()}"
    return belief


__all__ = ["Belief", "exact_belief", "llm_belief"]
