"""Configuration: the paper's defaults, TOML < environment < flags, strict keys, secrets kept out of sight."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from implement.cli.config_cmd import describe
from implement.config import (
    CollectConfig,
    Config,
    TrainingConfig,
    WorldModelConfig,
    apply_overrides,
    load_config,
)
from implement.errors import ConfigError, ImplementError

SECRET = "sk-test-0123456789abcdef"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "implement.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_papers() -> None:
    config = load_config(environ={})
    assert config.environment.max_steps == 30
    assert config.evaluation.trials == 12
    assert config.evaluation.parallel == 5
    assert (config.training.lora_r, config.training.lora_alpha) == (16, 16)
    assert config.training.learning_rate == 2e-5
    assert (config.training.weight_decay, config.training.max_grad_norm) == (0.01, 0.2)
    assert config.world_model.mc_samples == 10
    assert config.policy.max_interaction_rounds == 5
    assert (config.world_model.max_object_lists, config.world_model.max_failed_actions) == (15, 15)
    assert config.llm.api_key is None


def test_the_paper_profile_sits_under_the_file_variables_and_flags(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'profile = "paper"\n[evaluation]\ntrials = 3\n')
    config = load_config(path, environ={"IMPLEMENT_POLICY__MAX_PROPOSALS": "4"})
    assert config.profile == "paper"
    assert (config.environment.split, config.evaluation.seed, config.llm.temperature) == (
        "valid_unseen",
        928,
        1.0,
    )
    assert (config.world_model.top_p, config.policy.final_call, config.policy.summarizer) == (
        0.9,
        True,
        "policy",
    )
    assert (config.evaluation.trials, config.policy.max_proposals) == (3, 4)  # the file's, the variable's
    flagged = load_config(path, environ={}, flags={"--profile": ("profile", "implement")})
    assert (flagged.profile, flagged.environment.split, flagged.evaluation.trials) == (
        "implement",
        "valid_seen",
        3,
    )
    assert load_config(environ={"IMPLEMENT_PROFILE": "paper"}).profile == "paper"
    with pytest.raises(ConfigError, match="environment variable IMPLEMENT_PROFILE: unknown profile 'papr'"):
        load_config(environ={"IMPLEMENT_PROFILE": "papr"})


def test_every_field_has_help_text() -> None:
    rows = describe(Config())
    assert rows
    assert all(help_text for _, _, help_text, _ in rows), [name for name, _, h, _ in rows if not h]


def test_precedence_toml_then_environment_then_flags(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path, "[evaluation]\ntrials = 7\nparallel = 2\nseed = 4\n[environment]\nmax_steps = 20\n"
    )

    from_file = load_config(path, environ={})
    evaluation = from_file.evaluation
    assert (evaluation.trials, evaluation.parallel, evaluation.seed) == (7, 2, 4)
    assert from_file.environment.max_steps == 20

    environ = {"IMPLEMENT_EVALUATION__TRIALS": "3", "IMPLEMENT_EVALUATION__PARALLEL": "1"}
    from_env = load_config(path, environ=environ)
    assert (from_env.evaluation.trials, from_env.evaluation.parallel, from_env.evaluation.seed) == (3, 1, 4)

    flags: dict[str, tuple[str, Any]] = {
        "--trials": ("evaluation.trials", 9),
        "--parallel": ("evaluation.parallel", None),
        "--max-steps": ("environment.max_steps", None),
    }
    from_flags = load_config(path, environ=environ, flags=flags)
    assert from_flags.evaluation.trials == 9  # the flag beats the variable and the file
    assert from_flags.evaluation.parallel == 1  # None = flag not given: the variable stays
    assert from_flags.environment.max_steps == 20  # the file's value stays


def test_environment_variables_are_coerced_and_optional_fields_accept_none() -> None:
    environ = {
        "IMPLEMENT_ENVIRONMENT__SPLIT": "tiny",
        "IMPLEMENT_TRAINING__LEARNING_RATE": "1e-4",
        "IMPLEMENT_EVALUATION__GAMES": "20",
        "IMPLEMENT_LLM__MODEL": "none",
        "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1",
    }
    config = load_config(environ=environ)
    assert config.environment.split == "tiny"
    assert config.training.learning_rate == pytest.approx(1e-4)
    assert config.evaluation.games == 20
    assert config.llm.model is None
    assert config.llm.base_url == "http://127.0.0.1:8000/v1"
    assert load_config(environ={"IMPLEMENT_EVALUATION__GAMES": ""}).evaluation.games is None


def test_unknown_section_in_toml_names_the_valid_ones(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[evaluaton]\ntrials = 3\n")
    with pytest.raises(ConfigError, match="unknown section 'evaluaton'") as info:
        load_config(path, environ={})
    for section in (
        "environment",
        "evaluation",
        "llm",
        "world_model",
        "policy",
        "collect",
        "training",
        "api",
    ):
        assert section in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_field_in_toml_names_the_valid_ones(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[evaluation]\ntrails = 3\n")
    with pytest.raises(ConfigError, match="unknown field 'trails'") as info:
        load_config(path, environ={})
    for name in ("agent", "games", "trials", "parallel", "seed", "out"):
        assert name in str(info.value)


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown section 'x'") as info:
        load_config(environ={"IMPLEMENT_X__Y": "1"})
    assert "evaluation" in str(info.value)
    with pytest.raises(ConfigError, match="unknown field 'trails'") as info:
        load_config(environ={"IMPLEMENT_EVALUATION__TRAILS": "1"})
    assert "trials" in str(info.value)
    # Variables without a section separator are not configuration (IMPLEMENT_CACHE_DIR...).
    assert load_config(environ={"IMPLEMENT_CACHE_DIR": "/tmp/x"}).evaluation.trials == 12


def test_unknown_flag_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match="command line flag --trials: unknown section 'nope'"):
        load_config(environ={}, flags={"--trials": ("nope.trials", 1)})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"IMPLEMENT_EVALUATION__TRIALS": "abc"},
            "IMPLEMENT_EVALUATION__TRIALS: evaluation.trials expects int, got 'abc'",
        ),
        ({"IMPLEMENT_EVALUATION__TRIALS": "2.5"}, "trials expects int, got '2.5'"),
        ({"IMPLEMENT_TRAINING__LEARNING_RATE": "fast"}, "learning_rate expects float, got 'fast'"),
        ({"IMPLEMENT_EVALUATION__TRIALS": ""}, "trials expects int, got ''"),
    ],
)
def test_type_errors_say_what_was_expected_and_found(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ)
    assert message in str(info.value)
    assert "environment variable" in str(info.value)


def test_type_errors_in_toml_and_flags(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[evaluation]\ntrials = 2.5\n[environment]\nmax_steps = "ten"\n')
    with pytest.raises(ConfigError, match=r"trials expects int, got 2\.5"):
        load_config(path, environ={})
    with pytest.raises(
        ConfigError, match=r"command line flag --parallel: evaluation\.parallel expects int, got True"
    ):
        load_config(environ={}, flags={"--parallel": ("evaluation.parallel", True)})
    with pytest.raises(ConfigError, match="must be a table"):
        apply_overrides(Config(), {"evaluation": 3}, "test")  # type: ignore[dict-item]


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write_toml(tmp_path, "[evaluation\n"), environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", environ={})
    assert issubclass(ConfigError, ImplementError)


def test_api_key_is_loaded_but_never_shown() -> None:
    config = load_config(environ={"OPENAI_API_KEY": SECRET, "IMPLEMENT_API__TOKEN": SECRET + "-token"})
    assert config.llm.api_key == SECRET
    assert config.api.token == SECRET + "-token"

    data = config.to_dict()
    assert "api_key" not in data["llm"] and "token" not in data["api"]
    assert SECRET not in json.dumps(data)
    assert SECRET not in repr(config)

    rows = {name: value for name, value, _, _ in describe(config)}
    assert rows["llm.api_key"] == "***" and rows["api.token"] == "***"
    assert SECRET not in repr(describe(config))

    assert config.to_dict(secrets=True)["llm"]["api_key"] == SECRET
    # An unset key is shown as unset, not as a masked value.
    assert {name: value for name, value, _, _ in describe(Config())}["llm.api_key"] is None


def test_price_table_from_toml_and_env(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[llm.prices]\n"my-model" = [1.5, 6]\n')
    assert load_config(path, environ={}).llm.prices == {"my-model": [1.5, 6.0]}
    env = {"IMPLEMENT_LLM__PRICES": '{"other": [0.1, 0.2]}'}
    assert load_config(environ=env).llm.prices == {"other": [0.1, 0.2]}
    path.write_text('[llm.prices]\n"my-model" = [1.5]\n')
    with pytest.raises(ConfigError, match=r"expects \[input, output\]"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("IMPLEMENT_WORLD_MODEL__MC_SAMPLES", "0", "world_model.mc_samples must be >= 1, got 0"),
        ("IMPLEMENT_EVALUATION__TRIALS", "0", "evaluation.trials must be >= 1, got 0"),
        ("IMPLEMENT_EVALUATION__PARALLEL", "-1", "evaluation.parallel must be >= 1, got -1"),
        ("IMPLEMENT_EVALUATION__GAMES", "0", "evaluation.games must be >= 1, got 0"),
        ("IMPLEMENT_LLM__TEMPERATURE", "-0.5", "llm.temperature must be >= 0, got -0.5"),
        ("IMPLEMENT_LLM__TIMEOUT", "0", "llm.timeout must be > 0, got 0.0"),
        ("IMPLEMENT_LLM__MAX_RETRIES", "-1", "llm.max_retries must be >= 0, got -1"),
        ("IMPLEMENT_API__PORT", "70000", "api.port must be >= 1 and <= 65535, got 70000"),
        ("IMPLEMENT_TRAINING__VALIDATION_FRACTION", "1", "training.validation_fraction must be >= 0 and < 1"),
        ("IMPLEMENT_TRAINING__LEARNING_RATE", "0", "training.learning_rate must be > 0, got 0.0"),
        ("IMPLEMENT_POLICY__ROLLOUT_DEPTH", "-2", "policy.rollout_depth must be >= 0, got -2"),
    ],
)
def test_range_errors_name_the_variable_the_field_the_value_and_the_range(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={variable: value})
    assert str(info.value).startswith(f"environment variable {variable}: {message}")


def test_range_errors_in_toml_and_flags_name_the_file_and_the_flag(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[world_model]\nmc_samples = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == f"{path}: world_model.mc_samples must be >= 1, got 0"
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, flags={"--trials": ("evaluation.trials", 0)})
    assert str(info.value) == "command line flag --trials: evaluation.trials must be >= 1, got 0"
    # Each value is checked where it is set: a bad file stays an error when a variable overrides it.
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path, environ={"IMPLEMENT_WORLD_MODEL__MC_SAMPLES": "3"})


def test_every_default_is_in_range_and_ranges_are_listed() -> None:
    rows = {name: allowed for name, _, _, allowed in describe(load_config(environ={}))}
    assert rows["world_model.mc_samples"] == ">= 1"
    assert rows["training.validation_fraction"] == ">= 0 and < 1"
    assert rows["api.port"] == ">= 1 and <= 65535"
    assert rows["environment.split"] == ""


def test_sections_built_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"world_model\.mc_samples must be >= 1, got 0"):
        WorldModelConfig(mc_samples=0)
    with pytest.raises(
        ConfigError, match=r"collect.expert, collect.admissible and collect.seen must sum to 1"
    ):
        CollectConfig(expert=0.5)
    with pytest.raises(ConfigError, match="must sum to 1"):
        load_config(environ={"IMPLEMENT_COLLECT__SEEN": "0.5"})


def test_collect_and_training_run_settings_from_toml(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        "[collect]\nsplit = 'valid_train'\nnum_tasks = 20\nbatch_size = 2\nmax_steps = 12\nseed = 3\n"
        "expert = 0.5\nadmissible = 0.25\nseen = 0.25\n"
        "[training]\nbase_model = 'smollm2-135m'\nmax_steps = 40\nmax_length = 1024\nseed = 7\n"
        "save_steps = 20\nlogging_steps = 5\ndevice = 'cpu'\n",
    )
    config = load_config(path, environ={})
    assert config.collect == CollectConfig(
        split="valid_train", num_tasks=20, batch_size=2, max_steps=12, seed=3, expert=0.5, admissible=0.25,
        seen=0.25,
    )  # fmt: skip
    training = config.training
    assert (training.base_model, training.max_steps, training.max_length, training.seed) == (
        "smollm2-135m", 40, 1024, 7,
    )  # fmt: skip
    assert (training.save_steps, training.logging_steps, training.device) == (20, 5, "cpu")
    assert training.lora_r == TrainingConfig().lora_r  # the paper's values stay
    defaults = Config()
    assert (defaults.collect.split, defaults.collect.batch_size, defaults.collect.max_steps) == (
        "train",
        5,
        30,
    )
    assert (defaults.training.max_length, defaults.training.save_steps, defaults.training.seed) == (
        4096,
        500,
        0,
    )
    path.write_text("[collect]\nnum_tasks = 0\n")
    with pytest.raises(ConfigError, match=r"collect.num_tasks must be >= 1, got 0"):
        load_config(path, environ={})
    path.write_text("[training]\nmax_length = 0\n")
    with pytest.raises(ConfigError, match=r"training.max_length must be >= 1, got 0"):
        load_config(path, environ={})
