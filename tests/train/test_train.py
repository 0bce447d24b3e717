"""World-model SFT: sample loading, the completion-only label mask, and a short real LoRA run on CPU."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from implement.errors import DataError
from implement.train.samples import Sample, load_samples, split_samples
from implement.train.sft import TRAIN_INFO, prepare_training
from training import (
    FAST_CONFIG,
    FAST_RUN,
    MALFORMED,
    SAVE_STEPS,
    STEPS,
    base_model_dir,
    curated_sample,
    trained_adapter,  # noqa: F401 (a fixture)
    write_samples,
)

# -- samples -----------------------------------------------------------------------------------------


def test_missing_data_dir_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found; expected .*curated_samples_perception\.jsonl"):
        load_samples(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no curated samples"):
        load_samples(tmp_path)


def test_empty_files_are_an_error(tmp_path: Path) -> None:
    write_samples(tmp_path, 0)
    with pytest.raises(DataError, match="no valid training sample"):
        load_samples(tmp_path)


def test_malformed_lines_are_counted_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    no_answer = curated_sample(1)
    no_answer["messages"] = no_answer["messages"][:-1]
    bad_mode = {**curated_sample(1), "mode": "planning"}
    bad_part = curated_sample(1)
    bad_part["messages"][1]["content"] = [{"type": "image_url", "image_url": {}}]
    lines = (*MALFORMED, json.dumps(no_answer), json.dumps(bad_mode), json.dumps(bad_part), "[1, 2]")
    write_samples(tmp_path, 4, extra_lines=lines)
    samples, skipped = load_samples(tmp_path)
    assert [s.mode for s in samples] == ["perception", "perception", "prediction", "prediction"]
    assert skipped == {"not_json": 1, "bad_sample": 5}
    assert "curated_samples_prediction.jsonl:3: skipped, not valid JSON" in caplog.text
    assert "the last message must be the assistant's answer" in caplog.text


def test_one_mode_alone_is_enough(tmp_path: Path) -> None:
    write_samples(tmp_path, 1)
    (tmp_path / "curated_samples_prediction.jsonl").unlink()
    samples, skipped = load_samples(tmp_path)
    assert len(samples) == 1 and skipped == {}


@pytest.mark.parametrize(
    ("n", "fraction", "n_eval"), [(1, 0.01, 0), (2, 0.01, 1), (300, 0.01, 3), (5, 0.0, 0)]
)
def test_validation_split(n: int, fraction: float, n_eval: int) -> None:
    samples = [Sample("perception", str(i), curated_sample(i)["messages"]) for i in range(n)]
    train, held_out = split_samples(samples, fraction, seed=0)
    assert len(held_out) == n_eval and len(train) + n_eval == n
    assert {s.game for s in train + held_out} == {str(i) for i in range(n)}
    assert split_samples(samples, fraction, seed=0) == (train, held_out)  # seeded


# -- with the model ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_labels_mask_everything_but_the_answer(tmp_path: Path) -> None:
    """Through the trainer's own dataset preparation and collator: loss on the answer only."""
    sample = curated_sample(0)
    write_samples(tmp_path / "data", 1)
    base_model_dir()
    prepared = prepare_training(tmp_path / "data", tmp_path / "out", replace(FAST_CONFIG, max_steps=1))
    trainer = prepared.trainer
    assert prepared.train_samples == 1 and prepared.eval_samples == 0
    batch = trainer.data_collator([trainer.train_dataset[0]])
    input_ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    start = next(i for i, label in enumerate(labels) if label != -100)
    assert all(label == -100 for label in labels[:start])
    assert labels[start:] == input_ids[start:]
    tokenizer = trainer.processing_class
    prompt_ids = tokenizer.apply_chat_template(sample["messages"][:-1], add_generation_prompt=True)[
        "input_ids"
    ]
    assert input_ids[:start] == list(prompt_ids)  # every prompt token is masked, and only those
    answer = sample["messages"][-1]["content"]
    assert tokenizer.decode(input_ids[start:]).rstrip("\n") == answer + tokenizer.eos_token


@pytest.mark.slow
def test_image_samples_need_a_vision_model(tmp_path: Path) -> None:
    sample = curated_sample(0)
    text = sample["messages"][1]["content"]
    sample["messages"][1]["content"] = [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    (tmp_path / "curated_samples_perception.jsonl").write_text(json.dumps(sample) + "\n")
    base_model_dir()
    with pytest.raises(DataError, match="carry images but the base model smollm2-135m is text-only"):
        prepare_training(tmp_path, tmp_path / "out", replace(FAST_CONFIG, max_length=4096))


@pytest.mark.slow
def test_samples_longer_than_max_length_are_an_error(tmp_path: Path) -> None:
    write_samples(tmp_path / "data", 2)
    base_model_dir()
    with pytest.raises(DataError, match="no training sample fits in max_length=16"):
        prepare_training(tmp_path / "data", tmp_path / "out", replace(FAST_CONFIG, max_length=16))


@pytest.mark.slow
def test_training_learns_and_saves_the_adapter(trained_adapter: Path) -> None:  # noqa: F811
    from safetensors.torch import load_file

    info = json.loads((trained_adapter / TRAIN_INFO).read_text())
    assert info["steps"] == STEPS and info["base_model"] == "smollm2-135m"
    assert info["train_samples"] == 11 and info["eval_samples"] == 1
    assert info["samples_by_mode"] == {"perception": 6, "prediction": 6}
    assert info["skipped"] == {"not_json": 1, "bad_sample": 1}
    assert info["config"]["lora_r"] == 16
    assert set(info["versions"]) == {"torch", "transformers", "peft", "trl"}
    losses = info["train_losses"]
    assert len(losses) == STEPS
    assert losses[-1] < 0.7 * losses[0], losses  # the answers' format is learnt within a few steps
    assert info["eval_loss"] < 0.7 * info["eval_loss_before"]
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json"):
        assert (trained_adapter / name).is_file()
    weights = load_file(str(trained_adapter / "adapter_model.safetensors"))
    lora_b = {name: w for name, w in weights.items() if "lora_B" in name}
    assert len(lora_b) == 30 * 7  # all linear layers of the 30 blocks (q, k, v, o, gate, up, down)
    assert all(w.abs().sum() > 0 for w in lora_b.values())  # B starts at zero: every adapter was trained


def test_a_stopped_run_resumes_from_its_last_checkpoint(trained_adapter: Path, tmp_path: Path) -> None:  # noqa: F811
    import shutil

    from implement.train.sft import train_world_model

    assert sorted(p.name for p in trained_adapter.glob("checkpoint-*")) == [
        f"checkpoint-{SAVE_STEPS}",
        f"checkpoint-{STEPS}",
    ]
    run = tmp_path / "run"
    shutil.copytree(trained_adapter, run)
    data = trained_adapter.parent / "data"
    result = train_world_model(data, run, replace(FAST_RUN, max_steps=STEPS + 2), resume=True)
    assert result.steps == STEPS + 2 and result.eval_loss_before is None
    assert len(result.train_losses) == STEPS + 2  # the history carried over, two steps more
    with pytest.raises(DataError, match="nothing to resume"):
        train_world_model(data, tmp_path / "fresh", replace(FAST_CONFIG, max_steps=1), resume=True)


@pytest.mark.slow
def test_full_fine_tuning_logs_a_validation_curve_and_loads_as_a_chat_model(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from implement.llm.hf import TransformersChatModel
    from implement.train.curve import CURVE_SVG
    from implement.train.sft import train_world_model

    base_model_dir()
    data = write_samples(tmp_path / "data", 12)
    config = replace(
        FAST_RUN, method="full", learning_rate=1e-4, eval_steps=2, max_steps=4, gradient_checkpointing=False,
        save_steps=100,
    )  # fmt: skip
    result = train_world_model(data, tmp_path / "model", config)
    assert result.steps == 4 and not (tmp_path / "model" / "adapter_config.json").exists()
    assert (tmp_path / "model" / "model.safetensors").is_file()  # every weight, not an adapter
    assert [step for step, _ in result.curve["eval_loss"]] == [0, 2, 4]  # before, then every 2 steps
    assert [step for step, _ in result.curve["loss"]] == [1, 2, 3, 4]
    assert result.curve["eval_loss"][-1][1] < result.curve["eval_loss"][0][1]
    info = json.loads((tmp_path / "model" / TRAIN_INFO).read_text())
    assert info["curve"] == result.curve and info["config"]["method"] == "full"
    svg = ET.parse(tmp_path / "model" / CURVE_SVG).getroot()
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2  # training and validation
    model = TransformersChatModel(tmp_path / "model", device="cpu")
    (answer,) = asyncio.run(model.chat(curated_sample(1)["messages"][:-1], max_tokens=6))
    assert answer.text.startswith('{"')


def test_the_time_limit_stops_training_at_a_step_end() -> None:
    from transformers import TrainerControl, TrainerState

    from implement.train.sft import _time_limit

    state, control = TrainerState(global_step=3), TrainerControl()
    assert not _time_limit(10).on_step_end(None, state, control).should_training_stop
    assert _time_limit(1e-9).on_step_end(None, state, control).should_training_stop


def test_the_recipes_load_and_a_bad_method_is_refused(tmp_path: Path) -> None:
    from implement.config import ConfigError, load_config

    recipes = Path(__file__).resolve().parents[2] / "recipes"
    cpu = load_config(recipes / "cpu-small.toml")
    assert (cpu.training.method, cpu.training.base_model, cpu.world_model.format) == (
        "full",
        "smollm2-135m",
        "diff",
    )
    assert cpu.training.max_minutes is not None and cpu.training.max_minutes <= 60
    gpu = load_config(recipes / "gpu-paper.toml").training
    assert (gpu.method, gpu.lora_r, gpu.lora_alpha, gpu.learning_rate, gpu.epochs) == (
        "lora",
        16,
        16,
        2e-5,
        3,
    )
    assert (gpu.batch_size, gpu.gradient_accumulation) == (4, 4)
    bad = tmp_path / "bad.toml"
    bad.write_text('[training]\nmethod = "qlora"\n')
    with pytest.raises(ConfigError, match=r"training\.method must be one of lora, full, got 'qlora'"):
        load_config(bad)
