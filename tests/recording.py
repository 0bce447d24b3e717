"""A real HTTP chat model for tests that keeps every conversation it sends, and the server behind it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fake_openai import FakeOpenAIServer, FaultPlan
from implement.llm.base import Completion, Message
from implement.llm.openai_chat import OpenAIChatModel
from implement.llm.scripted import Script


def prompt_bullets(prompt: str, head: str) -> list[str]:
    """The lines of a policy prompt's section that starts with `head` (up to a blank line), less any `- `."""
    block = re.search(rf"^{re.escape(head)}.*?\n((?:.+\n?)*)", prompt, re.MULTILINE)
    lines = block.group(1).splitlines() if block else []
    return [line.removeprefix("- ") for line in lines if line != "(none yet)"]


class Recorder:
    """A chat model passing requests on to a real client, keeping every conversation sent."""

    def __init__(self, inner: OpenAIChatModel) -> None:
        self.inner, self.name, self.identity, self.usage = inner, inner.name, inner.identity, inner.usage
        self.sent: list[list[Message]] = []

    @property
    def schema_support(self) -> str:
        return self.inner.schema_support

    async def chat(self, messages: list[Message], **kwargs: Any) -> list[Completion]:
        self.sent.append(messages)
        return await self.inner.chat(messages, **kwargs)

    def users(self) -> list[str]:
        """The last user message of every request."""
        return [str(m[-1]["content"]) for m in self.sent]

    def prompts(self) -> list[str]:
        """Every request's messages joined into one text."""
        return ["\n".join(str(m["content"]) for m in messages) for messages in self.sent]


@contextmanager
def served(
    script: dict[str, Any], faults: FaultPlan | None = None
) -> Iterator[tuple[FakeOpenAIServer, Recorder]]:
    """A fake OpenAI server answering from `script`, and a recording client of it (no retries)."""
    server = FakeOpenAIServer(Script.from_dict(script), faults=faults)
    with server.running() as url:
        client = OpenAIChatModel("fake-model", base_url=url, api_key="k", max_retries=0, timeout=5)
        yield server, Recorder(client)
