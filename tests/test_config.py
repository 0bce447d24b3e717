"""Configuration: the paper's defaults, TOML < environment < flags, strict keys, secrets kept out of sight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from implement.config import Config, apply_overrides, describe, load_config
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
    assert config.world_model.mc_samples == 10
    assert config.policy.max_interaction_rounds == 5
    assert (config.world_model.max_object_lists, config.world_model.max_failed_actions) == (15, 15)
    assert config.llm.api_key is None


def test_every_field_has_help_text() -> None:
    rows = describe(Config())
    assert rows
    assert all(help_text for _, _, help_text in rows), [name for name, _, h in rows if not h]


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

    flags: dict[str, dict[str, Any]] = {
        "evaluation": {"trials": 9, "parallel": None},
        "environment": {"max_steps": None},
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
    for section in ("environment", "evaluation", "llm", "world_model", "policy", "training", "api"):
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
    with pytest.raises(ConfigError, match="command line"):
        load_config(environ={}, flags={"nope": {"trials": 1}})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IMPLEMENT_EVALUATION__TRIALS": "abc"}, "trials expects int, got 'abc'"),
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
    with pytest.raises(ConfigError, match="parallel expects int, got True"):
        load_config(environ={}, flags={"evaluation": {"parallel": True}})
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

    rows = {name: value for name, value, _ in describe(config)}
    assert rows["llm.api_key"] == "***" and rows["api.token"] == "***"
    assert SECRET not in repr(describe(config))

    assert config.to_dict(secrets=True)["llm"]["api_key"] == SECRET
    # An unset key is shown as unset, not as a masked value.
    assert {name: value for name, value, _ in describe(Config())}["llm.api_key"] is None


def test_price_table_from_toml_and_env(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[llm.prices]\n"my-model" = [1.5, 6]\n')
    assert load_config(path, environ={}).llm.prices == {"my-model": [1.5, 6.0]}
    env = {"IMPLEMENT_LLM__PRICES": '{"other": [0.1, 0.2]}'}
    assert load_config(environ=env).llm.prices == {"other": [0.1, 0.2]}
    path.write_text('[llm.prices]\n"my-model" = [1.5]\n')
    with pytest.raises(ConfigError, match=r"expects \[input, output\]"):
        load_config(path, environ={})
