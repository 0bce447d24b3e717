"""The embedded SmolLM2-135M: in process, and behind llama.cpp's OpenAI-compatible server over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="the `local` extra (llama-cpp-python) is not installed")

from implement.config import LLMConfig
from implement.llm import LLMError, make_chat_model
from implement.llm.local import TEMPLATE_KEY, embedded_model_path
from implement.llm.openai_chat import OpenAIChatModel

pytestmark = pytest.mark.slow
QUESTION = [{"role": "user", "content": "Name one fruit."}]
ACTIONS = ["go to fridge 1", "take apple 1 from countertop 1", "open drawer 2"]
ACTION_SCHEMA = {
    "type": "object",
    "properties": {"action": {"enum": ACTIONS}},
    "required": ["action"],
    "additionalProperties": False,
}
PROMPTS = [
    "You are in a kitchen. Your task: put an apple in the fridge. What do you do next?",
    "Name one fruit.",
    "Write a poem about the sea.",
    "Which drawer would you open?",
]


def write_without_template(source: Path, target: Path) -> Path:
    """A copy of the GGUF file `source` with every metadata field but its chat template."""
    gguf = pytest.importorskip("gguf")
    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(target, arch=reader.get_field("general.architecture").contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", TEMPLATE_KEY):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), kind, sub)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


@pytest.fixture(scope="module")
def templateless_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = embedded_model_path("smollm2-135m")
    return write_without_template(source, tmp_path_factory.mktemp("gguf") / "no-template.gguf")


def test_the_llama_cpp_server_honours_the_schema_form_the_client_finds(llama_server: str) -> None:
    model = OpenAIChatModel("smollm2", base_url=llama_server, api_key="k", structured="on", max_retries=0)

    async def ask() -> list[str]:
        return [
            (await model.chat([{"role": "user", "content": p}], schema=ACTION_SCHEMA, max_tokens=64))[0].text
            for p in PROMPTS
        ]

    texts = asyncio.run(ask())
    # llama-cpp-python's server refuses the OpenAI `json_schema` form (an error), takes its own
    assert model.schema_form == "json_object"
    assert [json.loads(text)["action"] in ACTIONS for text in texts] == [True] * len(PROMPTS)


def test_openai_backend_against_llama_cpp_server(llama_server: str) -> None:
    model = make_chat_model(f"openai:smollm2@{llama_server}")
    answers = asyncio.run(model.chat(QUESTION, n=3, temperature=1.0, max_tokens=12))
    assert len(answers) == 3 and all(a.text.strip() for a in answers)
    assert model.usage.prompt_tokens > 0 and model.usage.completion_tokens > 0
    assert model.usage.requests >= 1


def test_llm_check_against_llama_cpp_server(llama_server: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "implement.cli", "llm", "check", f"openai:smollm2@{llama_server}", "--json"],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "smollm2" in report["served_models"]
    assert report["reply"] and report["completion_tokens"] > 0
    assert isinstance(report["n_honoured"], bool | str)
    assert report["schema"] == "constrained" and report["schema_form"] == "json_object"


def test_local_backend_in_process() -> None:
    model = make_chat_model("local:smollm2-135m")
    answers = asyncio.run(model.chat(QUESTION, n=2, temperature=1.0, max_tokens=12))
    assert len(answers) == 2 and all(a.text.strip() for a in answers)
    assert model.usage.requests == 2 and model.usage.completion_tokens > 0


def test_a_gguf_without_a_chat_template_needs_a_named_format(templateless_gguf: Path) -> None:
    with pytest.raises(LLMError, match=r"no chat template .*#chat_format=chatml .*llm\.chat_format"):
        make_chat_model(f"local:{templateless_gguf}")
    for spec, config in (
        (f"local:{templateless_gguf}#chat_format=chatml", None),
        (f"local:{templateless_gguf}", LLMConfig(chat_format="chatml")),
    ):
        model = make_chat_model(spec, config)
        assert ":chat_format=chatml:" in model.identity
        [answer] = asyncio.run(model.chat([{"role": "user", "content": "What is the capital of France?"}],
                                          max_tokens=16))  # fmt: skip
        assert "Paris" in answer.text and "[INST]" not in answer.text


def test_the_embedded_template_is_used_and_named_in_the_identity() -> None:
    """SmolLM2's own template is ChatML that adds a default system message when there is none."""
    own = make_chat_model("local:smollm2-135m")
    chatml = make_chat_model("local:smollm2-135m#chat_format=chatml")
    assert ":chat_format=gguf:" in own.identity and ":chat_format=chatml:" in chatml.identity
    question = [{"role": "user", "content": "What is the capital of France?"}]
    with_system = [{"role": "system", "content": "You answer in one sentence."}, *question]
    [mine], [theirs] = (asyncio.run(m.chat(with_system, max_tokens=16)) for m in (own, chatml))
    assert (mine.prompt_tokens, mine.text) == (theirs.prompt_tokens, theirs.text)
    [mine], [theirs] = (asyncio.run(m.chat(question, max_tokens=16)) for m in (own, chatml))
    assert mine.prompt_tokens > theirs.prompt_tokens + 10


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("local:smollm2-135m#chat_format=no-such-format", "unknown chat format 'no-such-format'"),
        ("local:smollm2-135m#template=chatml", "bad option 'template=chatml'"),
        ("local:smollm2-135m#chat_format=", "bad option"),
    ],
)
def test_bad_local_spec_options(spec: str, match: str) -> None:
    with pytest.raises(LLMError, match=match):
        make_chat_model(spec)


def test_a_schema_constrains_the_answers() -> None:
    model = make_chat_model("local:smollm2-135m")
    assert model.schema_support == "constrained"
    for prompt in PROMPTS:
        answers = asyncio.run(
            model.chat([{"role": "user", "content": prompt}], n=2, temperature=1.0, max_tokens=40,
                       schema=ACTION_SCHEMA)
        )  # fmt: skip
        for answer in answers:
            assert json.loads(answer.text)["action"] in ACTIONS, answer.text
            assert set(json.loads(answer.text)) == {"action"}


def test_structured_off_ignores_the_schema() -> None:
    question = [{"role": "user", "content": PROMPTS[1]}]
    model = make_chat_model("local:smollm2-135m", LLMConfig(structured="off"))
    [free] = asyncio.run(model.chat(question, max_tokens=48))
    [ignored] = asyncio.run(model.chat(question, max_tokens=48, schema=ACTION_SCHEMA))
    constraining = make_chat_model("local:smollm2-135m")
    [constrained] = asyncio.run(constraining.chat(question, max_tokens=48, schema=ACTION_SCHEMA))
    assert ignored.text == free.text != constrained.text
    assert json.loads(constrained.text)["action"] in ACTIONS


def test_a_schema_llama_cpp_cannot_convert_is_an_error() -> None:
    model = make_chat_model("local:smollm2-135m")
    with pytest.raises(LLMError, match="cannot turn this JSON schema into a grammar"):
        asyncio.run(model.chat(QUESTION, schema={"$ref": "https://example.invalid/schema.json"}))
