"""Scripted models: deterministic answers from a JSON script, for tests, benchmarks and demos.

A script is a JSON file::

    {"rules": [{"match": "regex over the last user message", "responses": ["first", "second"]}],
     "default": "text when no rule matches (default: an echo of the last user message)"}

The first rule whose regex matches (re.search) answers; its responses are used in turn,
sample by sample and call by call, cycling. `{sample}` in a response is replaced by the
sample index. With no script at all, every answer is an echo.

A scripted model is unconstrained by default: it answers what the script says, as a server
that ignores schemas does (so tests can send answers no schema allows). `constrained=True`
makes it behave as a constrained decoder: an answer that is not JSON following the request's
schema is an error (`LLMError`), never passed on; that is how tests and the test server
hold a script, or a caller's schema, to the contract.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from implement.llm.base import Completion, LLMError, Message, Schema, Usage


def last_user_text(messages: list[Message]) -> str:
    """The text of the last user message (text parts joined; images left out)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, str):
                return content
            return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")
    return ""


@dataclass
class Script:
    rules: list[tuple[re.Pattern[str], list[str]]] = field(default_factory=list)
    default: str | None = None
    _turns: dict[int, int] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """A short hash of the rules and the default: what the script answers."""
        rules = [[pattern.pattern, responses] for pattern, responses in self.rules]
        text = json.dumps({"rules": rules, "default": self.default}, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def load(cls, path: Path | str) -> Script:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise LLMError(f"cannot read model script {path}: {exc}") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, where: str = "script") -> Script:
        if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
            raise LLMError(f"{where}: expected {{'rules': [...], 'default': ...}}")
        rules = []
        for i, rule in enumerate(data.get("rules", [])):
            responses = rule.get("responses") if isinstance(rule, dict) else None
            if (
                not isinstance(responses, list)
                or not responses
                or not all(isinstance(r, str) for r in responses)
            ):
                raise LLMError(f"{where}: rule {i} needs 'responses', a non-empty list of strings")
            try:
                rules.append((re.compile(rule.get("match", ""), re.DOTALL), responses))
            except re.error as exc:
                raise LLMError(f"{where}: rule {i} has a bad regex: {exc}") from exc
        default = data.get("default")
        if default is not None and not isinstance(default, str):
            raise LLMError(f"{where}: 'default' must be a string")
        return cls(rules, default)

    def respond(self, messages: list[Message], sample: int = 0) -> str:
        """The answer to a conversation; successive calls of one rule walk its responses."""
        text = last_user_text(messages)
        for index, (pattern, responses) in enumerate(self.rules):
            if pattern.search(text):
                turn = self._turns.get(index, 0)
                self._turns[index] = turn + 1
                return responses[turn % len(responses)].replace("{sample}", str(sample))
        if self.default is not None:
            return self.default.replace("{sample}", str(sample))
        return f"echo[{sample}]: {text}"


class ScriptedChatModel:
    """A `ChatModel` answering from a `Script`, in process: no network, no tokens, no cost."""

    def __init__(self, script: Script, name: str = "scripted", *, constrained: bool = False) -> None:
        self.name = name
        self.script = script
        self.usage = Usage()
        self.constrained = constrained

    @property
    def schema_support(self) -> str:
        return "constrained" if self.constrained else "unconstrained"

    @property
    def identity(self) -> str:
        return f"scripted:{self.script.digest}"

    async def chat(
        self,
        messages: list[Message],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 512,
        schema: Schema | None = None,
        top_p: float = 1.0,
    ) -> list[Completion]:
        texts = [self.script.respond(messages, i) for i in range(n)]
        if schema is not None and self.constrained:
            for text in texts:
                check_schema(text, schema)
        self.usage.record(completions=n)
        return [Completion(text, finish_reason="stop") for text in texts]


def schema_violation(text: str, schema: Schema) -> str | None:
    """Why `text` is not JSON following `schema`, or None when it is."""
    import jsonschema

    try:
        jsonschema.validate(json.loads(text), schema)
    except ValueError as exc:
        return f"not JSON: {exc}"
    except jsonschema.ValidationError as exc:
        return exc.message
    return None


def check_schema(text: str, schema: Schema) -> None:
    """`LLMError` unless `text` is JSON following `schema`."""
    problem = schema_violation(text, schema)
    if problem is not None:
        raise LLMError(f"the scripted answer {text[:120]!r} breaks the request's JSON schema: {problem}")
