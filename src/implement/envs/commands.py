"""The one ALFWorld command grammar: parsed commands, their text, the appliance table, normalization.

`parse_command("heat apple 1 with microwave 1")` reads a command into a `Command`
record; `format_command` writes one back in the engine's grammar. The game files use
ALFWorld's newer grammar (`move X to Y`); the older one (`put X in/on Y`) parses to the
same `move` command, and this module is the only place that knows both.

`normalize_command` maps what LLMs write onto the admissible commands. An unmatched
variant is not an error: the engine answers "Nothing happens.", which silently costs a
step. Each command is cleaned (case, spaces, punctuation) and, when its cleaned form is
not admissible, the known variants are tried against the admissible list.

Nothing third-party is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from implement.errors import ImplementError

Verb = Literal[
    "go to", "open", "close", "take", "move", "heat", "cool", "clean", "slice", "use", "examine",
    "inventory", "look", "help",
]  # fmt: skip
Treatment = Literal["heat", "cool", "clean"]
VERBS: tuple[Verb, ...] = get_args(Verb)
APPLIANCES: dict[Treatment, str] = {"heat": "microwave", "cool": "fridge", "clean": "sinkbasin"}  # -> type

# What each verb's command says, in the engine's grammar (`move`: the game files' newer one).
_FORMS: dict[Verb, str] = {
    "go to": "go to {receptacle}",
    "open": "open {receptacle}",
    "close": "close {receptacle}",
    "take": "take {object} from {receptacle}",
    "move": "move {object} to {receptacle}",
    "heat": "heat {object} with {receptacle}",
    "cool": "cool {object} with {receptacle}",
    "clean": "clean {object} with {receptacle}",
    "slice": "slice {object} with {tool}",
    "use": "use {object}",
    "examine": "examine {object}",
    "inventory": "inventory",
    "look": "look",
    "help": "help",
}
# How each is read: its form with the names as groups (the last one greedy); `move` also reads the
# older grammar's `put X in/on Y` (and its in, on, into).
_OLDER: dict[Verb, str] = {
    "move": r"^(?:move|put) (?P<object>.+?) (?:to|in/on|into|in|on) (?P<receptacle>.+)$",
}


def _pattern(verb: Verb) -> re.Pattern[str]:
    if verb in _OLDER:
        return re.compile(_OLDER[verb])
    parts = re.split(r"\{(object|receptacle|tool)\}", _FORMS[verb])
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+{'' if i == len(parts) - 2 else '?'})"
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


_PATTERNS: tuple[tuple[Verb, re.Pattern[str]], ...] = tuple(
    (verb, _pattern(verb)) for verb in VERBS if "{" in _FORMS[verb]
)
_BARE: tuple[Verb, ...] = ("inventory", "look", "help")


class CommandError(ImplementError, ValueError):
    """A `Command` lacks what its verb needs, or names no ALFWorld verb."""


@dataclass(frozen=True)
class Command:
    """One ALFWorld command: `verb` and the names it acts on.

    `object`: what is taken, moved, treated, sliced, used or examined (an examined thing
    may be a receptacle); `receptacle`: where one goes, what is opened or closed, taken
    from, moved to, or treated with (the appliance); `tool`: the knife of `slice`.
    """

    verb: Verb
    object: str | None = None
    receptacle: str | None = None
    tool: str | None = None

    def __post_init__(self) -> None:
        if self.verb not in _FORMS:
            raise CommandError(f"command verb: expected one of {', '.join(VERBS)}, got {self.verb!r}")
        for part in ("object", "receptacle", "tool"):
            needed = "{" + part + "}" in _FORMS[self.verb]
            if needed != (getattr(self, part) is not None):
                what = "needs" if needed else "takes no"
                raise CommandError(f"{self.verb!r} {what} {part}, got {self!r}")

    @property
    def target(self) -> str | None:
        """What the command is about: its receptacle, else its tool (slice), else its object."""
        return self.receptacle or self.tool or self.object


def parse_command(text: str) -> Command | None:
    """The command `text` says (in the engine's grammar, or the older `put`), or None.

    The text is read as it is: clean it first (`clean_command`) for case and spacing.
    """
    for bare in _BARE:
        if text == bare:
            return Command(bare)
    for verb, pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return Command(verb, **match.groupdict())
    return None


def format_command(command: Command) -> str:
    """The engine's text of `command` (`parse_command`'s inverse on engine commands)."""
    return _FORMS[command.verb].format(
        object=command.object, receptacle=command.receptacle, tool=command.tool
    )


# ---------------------------------------------------------------- normalization

_PREFIX = re.compile(r"^(?:>\s*|action\s*:\s*|\d+\s*[.)]\s+)", re.IGNORECASE)
_VARIANTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile(r"^(?:put|place|move|drop|insert)\s+(.+?)\s+(?:in/on|into|onto|in|on|to|inside)\s+(.+)$"),
        (_FORMS["move"].format(object="{0}", receptacle="{1}"), "put {0} into {1}", "put {0} in {1}"),
    ),
    (
        re.compile(r"^(?:pick up|pickup|grab|get|take)\s+(.+?)\s+(?:from|off|out of)\s+(.+)$"),
        (_FORMS["take"].format(object="{0}", receptacle="{1}"),),
    ),
    (
        re.compile(r"^(?:goto|go|walk to|move to|navigate to)\s+(?:to\s+)?(.+)$"),
        (_FORMS["go to"].format(receptacle="{0}"),),
    ),
    (re.compile(r"^(?:turn on|switch on|toggle)\s+(.+)$"), (_FORMS["use"].format(object="{0}"),)),
    (re.compile(r"^(?:look at|inspect)\s+(.+)$"), (_FORMS["examine"].format(object="{0}"),)),
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
        takes = [a for a in admissible if _takes(a, bare.group(1))]
        if len(takes) == 1:
            return takes[0]
    return command


def _takes(command: str, obj: str) -> bool:
    parsed = parse_command(command)
    return parsed is not None and parsed.verb == "take" and parsed.object == obj


__all__ = [
    "APPLIANCES",
    "VERBS",
    "Command",
    "CommandError",
    "Treatment",
    "Verb",
    "clean_command",
    "format_command",
    "normalize_command",
    "parse_command",
]
