"""The baselines the paper compares against: ReAct and Reflexion on the text transcript.

(`vanilla`, the LLM policy on the symbolic state with neither imagination nor MetaICL,
is `ImplementAgent` with both off; its builder is in `implement.agents`.)

`ReactAgent` shows the model the solved example of the episode's task type and the
transcript so far (`implement.prompts.react`). The model answers one line (as the `line` of a
JSON object where the backend decodes under the step's schema, `react_schema`): a thought
("think: ..."), which joins the transcript with "OK." and is asked again, at most
`max_thoughts` times per step; or a command, normalized against the admissible ones.
Whatever comes after that is played, as in ReAct: a command that does not apply (a
further thought, an empty answer) gets "Nothing happens." from the game. A request that
fails for good raises its `LLMError` (the episode is an error), never a fallback command.

`ReflexionAgent` adds self-reflection across trials of one game: a failed episode
leaves its transcript in the game's memory; the first step of the next trial asks the
model what went wrong and for a plan, keeps the last `max_reflections` of these in
memory, and shows them in every prompt of that trial. The reflection is asked then and
not in `finish`, which the `Agent` protocol keeps synchronous.
"""

from __future__ import annotations

import re
from typing import Any

from implement.agents.base import Decision, EpisodeOutcome, TaskMemory, metered
from implement.envs.base import Observation, Task
from implement.envs.commands import normalize_command
from implement.errors import AgentError, ConfigError
from implement.llm.base import ChatModel
from implement.prompts.react import react_messages, reflection_messages
from implement.prompts.schemas import react_schema
from implement.world_model.parsing import json_objects

REFLECTIONS = "reflections"  # memory.data key: the reflections of earlier trials, oldest first
FAILED_EPISODE = "failed_episode"  # memory.data key: the transcript still to reflect on

_BANNER = re.compile(r"^-=.*=-\s*$", re.MULTILINE)
_THOUGHT = re.compile(r"^(?:>\s*)?think\s*:\s*(.*)$", re.IGNORECASE)


def require_llm(spec: str, agent: str) -> str:
    """`spec`, unless it is the LLM-free planner, which `agent` cannot run on."""
    if spec == "planner":
        raise ConfigError(f"{agent} needs an LLM: pass --policy SPEC or set llm.model")
    return spec


def answer_line(text: str) -> str:
    """The line an answer gives: the `line` of its JSON object (a schema-constrained answer), else
    its first non-empty line."""
    for data in json_objects(text):
        if isinstance(data.get("line"), str):
            return data["line"].strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class ReactAgent:
    """See the module docstring."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        max_thoughts: int = 3,
        name: str = "react",
    ) -> None:
        if max_thoughts < 0:
            raise ConfigError(f"max_thoughts must be >= 0, got {max_thoughts}")
        self.chat_model = chat_model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_thoughts = max_thoughts
        self.name = name
        self._task: Task | None = None
        self._memory: TaskMemory | None = None
        self._transcript: list[str] = []

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._task, self._memory, self._transcript = task, memory, []

    async def act(self, observation: Observation) -> Decision:
        if self._task is None:
            raise AgentError("act() before reset()")
        return await metered(self._step(observation))

    def finish(self, outcome: EpisodeOutcome) -> None:
        """Nothing is kept across trials."""

    @property
    def transcript(self) -> str:
        """The episode so far as the model sees it: observations, thoughts and commands."""
        return "\n".join(self._transcript)

    def reflections(self) -> list[str]:
        """What the prompt shows of earlier trials: nothing, for ReAct."""
        return []

    async def _step(self, observation: Observation) -> Decision:
        assert self._task is not None
        details: dict[str, Any] = await self._prepare()
        self._transcript.append(_BANNER.sub("", observation.text).strip())
        thoughts: list[str] = []
        answers: list[str] = []
        while True:
            messages = react_messages(self._task.task_type, self.transcript, self.reflections())
            may_think = len(thoughts) < self.max_thoughts
            schema = react_schema(observation.admissible_commands, may_think=may_think)
            completions = await self.chat_model.chat(
                messages, n=1, temperature=self.temperature, max_tokens=self.max_tokens, schema=schema
            )
            answers.append(completions[0].text if completions else "")
            line = answer_line(answers[-1])
            thought = _THOUGHT.match(line)
            if thought is None or len(thoughts) == self.max_thoughts:
                action = normalize_command(line, observation.admissible_commands)
                break
            thoughts.append(thought.group(1).strip())
            self._transcript.append(f"> think: {thoughts[-1]}\nOK.")
        self._transcript.append(f"> {action}")
        details.update(
            thoughts=thoughts,
            answers=answers,
            admissible=action in observation.admissible_commands,
        )
        return Decision(action, reasoning="\n".join(thoughts), details=details)

    async def _prepare(self) -> dict[str, Any]:
        """Work before a step's first prompt, returning details for the step: nothing, for ReAct."""
        return {}


class ReflexionAgent(ReactAgent):
    """See the module docstring."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        max_thoughts: int = 3,
        max_reflections: int = 3,
        name: str = "reflexion",
    ) -> None:
        if max_reflections < 1:
            raise ConfigError(f"max_reflections must be >= 1, got {max_reflections}")
        super().__init__(
            chat_model, max_tokens=max_tokens, temperature=temperature, max_thoughts=max_thoughts, name=name
        )
        self.max_reflections = max_reflections

    def finish(self, outcome: EpisodeOutcome) -> None:
        """A failed episode leaves its transcript, to be reflected on when the next trial starts."""
        if not outcome.won and self._memory is not None:
            self._memory.data[FAILED_EPISODE] = {"transcript": self.transcript, "steps": outcome.steps}

    def reflections(self) -> list[str]:
        return list(self._memory.data.get(REFLECTIONS, [])) if self._memory is not None else []

    async def _prepare(self) -> dict[str, Any]:
        """Reflect on the failed episode of an earlier trial, if one waits in memory."""
        assert self._memory is not None
        failed = self._memory.data.pop(FAILED_EPISODE, None)
        if failed is None:
            return {}
        messages = reflection_messages(failed["transcript"], failed["steps"])
        completions = await self.chat_model.chat(
            messages, n=1, temperature=self.temperature, max_tokens=self.max_tokens
        )
        text = completions[0].text.strip() if completions else ""
        if not text:
            return {"reflection": None, "reflection_error": "empty answer"}
        self._memory.data[REFLECTIONS] = [*self.reflections(), text][-self.max_reflections :]
        return {"reflection": text}


__all__ = ["FAILED_EPISODE", "REFLECTIONS", "ReactAgent", "ReflexionAgent", "require_llm"]
