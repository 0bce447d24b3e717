"""The belief summarizer's prompt (the paper's LLM summary of imagined outcomes).

A system text asking for two or three neutral sentences, and a user message listing the
action and its distinct imagined changes with how many samples showed each. A change of
this text is a change of `VERSION`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from implement.llm.base import Message

VERSION = "belief-1"

SYSTEM_TEXT = (
    "You summarize imagined outcomes of one action in a household task. Given the action and the "
    "distinct imagined changes with how many samples showed each, write two or three neutral "
    "sentences: what changes, where the agent would be, what it would hold, which objects each "
    "receptacle would show and how likely each is (as percentages). Do not recommend anything."
)


def summary_messages(
    action: str, outcomes: Sequence[tuple[dict[str, Any], int]], samples: int
) -> list[Message]:
    """The request summarizing `outcomes` (distinct state diffs, with their counts of `samples`)."""
    changes = "\n".join(f"- {count}/{samples} samples: {json.dumps(diff)}" for diff, count in outcomes)
    return [
        {"role": "system", "content": SYSTEM_TEXT},
        {"role": "user", "content": f"Action: {action}\nImagined changes:\n{changes}"},
    ]


__all__ = ["SYSTEM_TEXT", "VERSION", "summary_messages"]
