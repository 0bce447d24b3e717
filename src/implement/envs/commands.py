"""Map the commands LLMs write onto the commands ALFWorld's engine accepts.

The game files use ALFWorld's newer grammar (`move X to Y`), while models trained or
prompted on the older one write `put X in/on Y`. An unmatched variant is not an error:
the engine answers "Nothing happens.", which silently costs a step. Here each command is
cleaned (case, spaces, punctuation) and, when its cleaned form is not admissible, the
known variants are tried against the admissible list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_PREFIX = re.compile(r"^(?:>\s*|action\s*:\s*|\d+\s*[.)]\s+)", re.IGNORECASE)
_VARIANTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile(r"^(?:put|place|move|drop|insert)\s+(.+?)\s+(?:in/on|into|onto|in|on|to|inside)\s+(.+)$"),
        ("move {0} to {1}", "put {0} into {1}", "put {0} in {1}"),
    ),
    (
        re.compile(r"^(?:pick up|pickup|grab|get|take)\s+(.+?)\s+(?:from|off|out of)\s+(.+)$"),
        ("take {0} from {1}",),
    ),
    (re.compile(r"^(?:goto|go|walk to|move to|navigate to)\s+(?:to\s+)?(.+)$"), ("go to {0}",)),
    (re.compile(r"^(?:turn on|switch on|toggle)\s+(.+)$"), ("use {0}",)),
    (re.compile(r"^(?:look at|inspect)\s+(.+)$"), ("examine {0}",)),
)
_BARE_TAKE = re.compile(r"^(?:pick up|pickup|grab|get|take)\s+(.+)$")


def clean_command(text: str) -> str:
    """Lower-case, strip quotes, prompts and trailing punctuation, collapse spaces."""
    command = text.strip().splitlines()[0] if text.strip() else ""
    command = _PREFIX.sub("", command.strip())
    command = command.strip().strip("`'\"").strip()
    command = re.sub(r"[.!;]+$", "", command)
    return re.sub(r"\s+", " ", command).strip().lower()


def normalize_command(text: str, admissible: Sequence[str]) -> str:
    """The engine command for `text`: the admissible form of it when one exists, else its cleaned form."""
    command = clean_command(text)
    allowed = set(admissible)
    if command in allowed:
        return command
    for pattern, templates in _VARIANTS:
        match = pattern.match(command)
        if match:
            for template in templates:
                candidate = template.format(*match.groups())
                if candidate in allowed:
                    return candidate
    bare = _BARE_TAKE.match(command)
    if bare and " from " not in command:
        takes = [a for a in admissible if a.startswith(f"take {bare.group(1)} from ")]
        if len(takes) == 1:
            return takes[0]
    return command
