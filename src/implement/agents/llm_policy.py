"""`LLMPolicy`: a chat model decides each round of policy iteration (the paper's policy).

The prompt is `implement.prompts.policy`; each request carries the round's JSON schema
(`implement.prompts.schemas.policy_schema`), which constrains the answer where the backend
decodes under schemas. The answer is read robustly (plain JSON, a
fenced block, text around the object, a Python literal; nothing is executed) and checked
against the round: a choice must be an evaluated action (any admissible command without
imagination); proposals are normalized, deduplicated, new and capped, and refused in the
last round. A bad answer is re-asked, the error stated, up to `max_reasks` times; after
that the reply has no choice and lists every error, and the agent falls back (and records
it). A request that fails for good raises its `LLMError`: a dead endpoint is no answer of
the model's, it ends the episode as an error.
"""

from __future__ import annotations

import json
from typing import Any

from implement.agents.policy import PolicyReply, PolicyView
from implement.envs.commands import normalize_command
from implement.errors import ConfigError, ImplementError
from implement.llm.base import ChatModel
from implement.prompts.policy import policy_messages, reask_message
from implement.prompts.schemas import MAX_THOUGHT, policy_schema
from implement.world_model.parsing import excerpt, json_objects


class AnswerError(ImplementError):
    """A policy answer that cannot be used this round; the message says why, for the re-ask."""


class LLMPolicy:
    """See the module docstring."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        max_proposals: int = 8,
        max_reasks: int = 2,
        max_thought: int = MAX_THOUGHT,
        prune_unchanged: bool = False,
    ) -> None:
        if max_proposals < 1 or max_reasks < 0:
            raise ConfigError(
                f"expected max_proposals >= 1 and max_reasks >= 0, got {max_proposals} and {max_reasks}"
            )
        self.chat_model = chat_model
        self.name = f"llm:{chat_model.name}"
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_proposals = max_proposals
        self.max_thought = max_thought
        self.prune_unchanged = prune_unchanged
        self.max_reasks = max_reasks

    def reset(self, goal: str, task_type: str) -> None:
        """Nothing to reset: every round's prompt carries the whole episode so far."""

    async def decide(self, view: PolicyView) -> PolicyReply:
        if view.final and view.imagination and not view.evaluated:
            return PolicyReply(reasoning="last round with nothing evaluated: nothing to choose from")
        messages = policy_messages(view, self.max_proposals)
        schema = policy_schema(
            view, self.max_proposals, max_thought=self.max_thought, prune_unchanged=self.prune_unchanged
        )
        errors: list[str] = []
        for _ in range(self.max_reasks + 1):
            completions = await self.chat_model.chat(
                messages, n=1, temperature=self.temperature, max_tokens=self.max_tokens, schema=schema
            )
            text = completions[0].text if completions else ""
            try:
                reply = self.read(text, view)
            except AnswerError as exc:
                errors.append(str(exc))
                messages = [
                    *messages,
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": reask_message(str(exc))},
                ]
                continue
            reply.parse_errors = errors
            return reply
        return PolicyReply(reasoning=f"no usable answer in {len(errors)} tries", parse_errors=errors)

    def read(self, text: str, view: PolicyView) -> PolicyReply:
        """The reply an answer spells for this round; `AnswerError` saying what is wrong otherwise."""
        answer = _answer_object(text)
        thought = str(answer.get("thought") or "")
        if answer["help"] is False:
            return PolicyReply(choice=self._choice(answer.get("action"), view), reasoning=thought)
        if view.final or not view.imagination:
            raise AnswerError('"help" must be false now: choose an action, proposals are not allowed')
        return PolicyReply(proposals=self._proposals(answer.get("proposals"), view), reasoning=thought)

    def _choice(self, action: Any, view: PolicyView) -> str:
        choices = list(view.evaluated) if view.imagination else list(view.admissible)
        kind = "evaluated actions" if view.imagination else "admissible commands"
        if not isinstance(action, str) or not action.strip():
            raise AnswerError(f'with "help": false, "action" must be a command, got {json.dumps(action)}')
        choice = normalize_command(action, choices)
        if choice not in choices:
            raise AnswerError(f'"action" {action!r} is not one of the {kind}: {", ".join(choices)}')
        return choice

    def _proposals(self, proposals: Any, view: PolicyView) -> list[str]:
        if not isinstance(proposals, list) or not all(isinstance(p, str) for p in proposals):
            raise AnswerError(f'with "help": true, "proposals" must be a list of commands, got {proposals!r}')
        normalized = (normalize_command(p, view.admissible) for p in proposals)
        new = [p for p in dict.fromkeys(normalized) if p and p not in view.evaluated]
        if not new:
            raise AnswerError(
                '"proposals" holds no command that is not evaluated yet; propose new ones, '
                'or choose with "help": false'
            )
        return new[: self.max_proposals]


def _answer_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text` with a boolean "help"; `AnswerError` when there is none."""
    objects = list(json_objects(text))
    for data in objects:
        if isinstance(data.get("help"), bool):
            return data
    shown = excerpt(text)
    if objects:
        raise AnswerError(f'the answer\'s JSON object has no "help": true or false, got {shown!r}')
    raise AnswerError(f"no JSON object in the answer {shown!r}")


__all__ = ["AnswerError", "LLMPolicy"]
