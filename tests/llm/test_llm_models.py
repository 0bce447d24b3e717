"""Model specs, scripted models and the embedded model's discovery."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from implement.llm import SPEC_FORMS, LLMError, make_chat_model
from implement.llm.local import embedded_model_path, resolve_model_path
from implement.llm.scripted import Script, last_user_text


@pytest.mark.parametrize("spec", ["gpt-4", "openai:", "local:", "nope:x", ""])
def test_unknown_spec_lists_the_valid_forms(spec: str) -> None:
    with pytest.raises(LLMError, match="expected one of") as info:
        make_chat_model(spec)
    assert all(form in str(info.value) for form in SPEC_FORMS)


def test_scripted_rules_cycle_and_fill_sample_index(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    rules = [{"match": r"kitchen", "responses": ["go to fridge 1", "open fridge 1 ({sample})"]}]
    path.write_text(json.dumps({"rules": rules, "default": "look"}))
    model = make_chat_model(f"scripted:{path}")
    ask = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "in the kitchen"}]
    answers = asyncio.run(model.chat(ask, n=3))
    assert [a.text for a in answers] == ["go to fridge 1", "open fridge 1 (1)", "go to fridge 1"]
    (other,) = asyncio.run(model.chat([{"role": "user", "content": "bedroom"}]))
    assert other.text == "look"
    assert model.usage.requests == 2 and model.usage.completions == 4


def test_echo_and_image_parts() -> None:
    content = [{"type": "text", "text": "what is here"}, {"type": "image_url", "image_url": {"url": "data:"}}]
    assert last_user_text([{"role": "user", "content": content}]) == "what is here"
    (answer,) = asyncio.run(make_chat_model("scripted:").chat([{"role": "user", "content": content}]))
    assert answer.text == "echo[0]: what is here"


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"rules": {}},
        {"rules": [{"match": "x"}]},
        {"rules": [{"match": "(", "responses": ["a"]}]},
        {"default": 3},
    ],
)
def test_bad_scripts_say_what_is_wrong(data: object) -> None:
    with pytest.raises(LLMError, match="script"):
        Script.from_dict(data)


def test_missing_script_file(tmp_path: Path) -> None:
    with pytest.raises(LLMError, match="cannot read model script"):
        make_chat_model(f"scripted:{tmp_path / 'none.json'}")


def test_embedded_model_lookup(tmp_path: Path) -> None:
    with pytest.raises(LLMError, match="unknown embedded model"):
        embedded_model_path("gpt-5")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(str(gguf)) == gguf


def test_a_usage_ledger_counts_only_its_own_context() -> None:
    """Two agents sharing one model: each ledger sees its own requests, the model sees all."""
    from implement.llm.base import usage_ledger
    from implement.llm.scripted import Script, ScriptedChatModel

    model = ScriptedChatModel(Script())

    async def agent(calls: int) -> int:
        with usage_ledger() as spent:
            await asyncio.gather(
                *(model.chat([{"role": "user", "content": "hi"}], n=2) for _ in range(calls))
            )
            await asyncio.sleep(0)
        return spent.requests * 100 + spent.completions

    async def both() -> list[int]:
        return list(await asyncio.gather(agent(3), agent(5)))

    assert asyncio.run(both()) == [306, 510]
    assert model.usage.requests == 8 and model.usage.completions == 16


def test_local_and_hf_identities_follow_the_weights(tmp_path: Path) -> None:
    from implement.llm.hf import hf_identity
    from implement.llm.local import local_identity

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF v1")
    first = local_identity(gguf, seed=0)
    assert first.startswith(f"local:{gguf.resolve()}:") and first.endswith(":seed=0")
    assert local_identity(gguf, seed=1) != first
    gguf.write_bytes(b"GGUF v2 longer")
    assert local_identity(gguf, seed=0) != first

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m"}))
    (adapter / "adapter_model.safetensors").write_bytes(b"weights 1")
    trained = hf_identity(adapter, seed=0)
    assert trained.startswith(f"hf:{adapter.resolve()}:") and trained == hf_identity(adapter, seed=0)
    (adapter / "adapter_model.safetensors").write_bytes(b"weights 2")  # same size: the bytes tell
    assert hf_identity(adapter, seed=0) != trained
    assert (
        hf_identity("HuggingFaceTB/SmolLM2-135M-Instruct", seed=0)
        == "hf:HuggingFaceTB/SmolLM2-135M-Instruct:seed=0"
    )


def test_scripted_identity_is_the_scripts_content(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"rules": [{"match": "x", "responses": ["a"]}]}))
    again = tmp_path / "again.json"
    again.write_text(path.read_text())
    same, twin = make_chat_model(f"scripted:{path}"), make_chat_model(f"scripted:{again}")
    assert same.identity == twin.identity != make_chat_model("scripted:").identity
    assert same.identity.startswith("scripted:")
