"""Configuration: dataclasses whose defaults are the paper's settings.

Precedence: defaults < TOML file < environment variables < CLI flags. A TOML file has
one table per section (`[evaluation]`, `[environment]`, ...); an environment variable is
`IMPLEMENT_<SECTION>__<FIELD>` (e.g. `IMPLEMENT_EVALUATION__TRIALS=3`), plus
`OPENAI_API_KEY` / `OPENAI_BASE_URL` for the LLM endpoint. Unknown sections, fields or
`IMPLEMENT_*__*` variables are errors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from implement.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class EnvironmentConfig:
    split: str = _f("valid_seen", "ALFWorld split to play (train, valid_seen, valid_unseen, valid_train)")
    max_steps: int = _f(30, "steps per episode (paper: 30)")
    data_dir: str | None = _f(None, "ALFWorld data root (default: $ALFWORLD_DATA or ~/.cache/alfworld)")


@dataclass
class EvaluationConfig:
    agent: str = _f("implement", "agent: implement, vanilla, react, reflexion, expert, random")
    games: int | None = _f(None, "number of games to sample from the split (default: all)")
    trials: int = _f(12, "trials per game (paper: 12); a solved game is not played again")
    parallel: int = _f(5, "environments played at once (paper: 5)")
    replay_solved: bool = _f(False, "play solved games again in later trials (adaptation; SR@k unchanged)")
    seed: int = _f(0, "seed of game sampling and of every random choice")
    conditions: str | None = _f(None, "MetaICL conditions directory that starts each listed game's memory")
    api_url: str | None = _f(None, "run the agent on an `implement serve` API server (default: in process)")
    out: str | None = _f(None, "run directory (default: runs/<agent>-<split>-<time>)")


@dataclass
class LLMConfig:
    model: str | None = _f(None, "model spec of the policy LLM (none: the LLM-free planner)")
    base_url: str | None = _f(None, "OpenAI-compatible endpoint ($OPENAI_BASE_URL)")
    api_key: str | None = field(default=None, repr=False, metadata={"help": "API key ($OPENAI_API_KEY)"})
    temperature: float = _f(0.0, "policy sampling temperature")
    max_tokens: int = _f(512, "completion tokens per policy call")
    timeout: float = _f(60.0, "seconds per request before it is retried")
    max_retries: int = _f(6, "retries on 429, 5xx, timeouts and connection errors")
    concurrency: int = _f(16, "requests in flight per endpoint")
    prices: dict[str, list[float]] = field(
        default_factory=dict,
        metadata={
            "help": "model -> [$ per 1M input tokens, $ per 1M output tokens], over the built-in table"
        },
    )
    cache: str | None = _f(None, "SQLite response cache file (none: no cache)")


@dataclass
class WorldModelConfig:
    model: str = _f("symbolic", "world model spec")
    mc_samples: int = _f(10, "Monte Carlo samples for information-gathering actions (paper: 10)")
    temperature: float = _f(1.0, "sampling temperature of imagination (paper: 1.0)")
    max_tokens: int = _f(2048, "completion tokens per world-model answer (a full state)")
    max_object_lists: int = _f(15, "MetaICL condition 1: object lists shown at most (paper: 15)")
    max_failed_actions: int = _f(15, "MetaICL condition 2: failed actions shown at most (paper: 15)")


@dataclass
class PolicyConfig:
    model: str | None = _f(None, "policy: planner, or an LLM spec (default: llm.model, else planner)")
    summarizer: str = _f("exact", "belief summary: exact (sample counts), or an LLM spec")
    max_interaction_rounds: int = _f(5, "policy-iteration rounds per step (paper: 5)")
    max_proposals: int = _f(8, "new actions the policy may propose per round")
    imagination: bool = _f(True, "imagine proposed actions with the world model (ablation: off)")
    metaicl: bool = _f(True, "MetaICL conditions across trials of a game (ablation: off)")
    rollout_depth: int = _f(
        0, "multi-step imagination beyond the paper: planner steps rolled further (0: off)"
    )


@dataclass
class TrainingConfig:
    base_model: str = _f("Qwen/Qwen2.5-VL-7B-Instruct", "base model of the world model")
    lora_r: int = _f(16, "LoRA rank (paper: 16)")
    lora_alpha: int = _f(16, "LoRA alpha (paper: 16)")
    lora_dropout: float = _f(0.05, "LoRA dropout")
    learning_rate: float = _f(2e-5, "learning rate (paper: 2e-5)")
    epochs: int = _f(3, "epochs (paper: 3)")
    batch_size: int = _f(4, "per-device batch size (paper: 4)")
    gradient_accumulation: int = _f(4, "gradient accumulation steps (paper: 4)")
    max_grad_norm: float = _f(0.2, "gradient clipping norm")
    validation_fraction: float = _f(0.01, "share of samples held out for validation")


@dataclass
class APIConfig:
    host: str = _f("127.0.0.1", "address the API server binds to")
    port: int = _f(30972, "API server port (the seed's)")
    token: str | None = field(default=None, repr=False, metadata={"help": "bearer token required by the API"})
    max_batch: int = _f(64, "most environments (or samples) in one request")
    max_body_bytes: int = _f(8 * 1024 * 1024, "largest request body accepted, in bytes")


@dataclass
class Config:
    environment: EnvironmentConfig = field(default_factory=EnvironmentConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    api: APIConfig = field(default_factory=APIConfig)

    def to_dict(self, *, secrets: bool = False) -> dict[str, Any]:
        """Plain data; API keys and tokens are left out unless `secrets`."""
        data = dataclasses.asdict(self)
        if not secrets:
            data["llm"].pop("api_key")
            data["api"].pop("token")
        return data


_SECRETS = {("llm", "api_key"), ("api", "token")}
_ENV_ALIASES = {"OPENAI_API_KEY": ("llm", "api_key"), "OPENAI_BASE_URL": ("llm", "base_url")}


def _sections(config: Config) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _coerce(section: Any, name: str, value: Any, where: str) -> Any:
    hints = typing.get_type_hints(type(section))
    if name not in hints:
        valid = ", ".join(f.name for f in dataclasses.fields(section))
        raise ConfigError(f"{where}: unknown field {name!r}; expected one of: {valid}")
    hint = hints[name]
    args = typing.get_args(hint)
    optional = (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    if value is None or (optional and isinstance(value, str) and value.lower() in ("", "none", "null")):
        if optional:
            return None
        raise ConfigError(f"{where}: {name} cannot be empty")
    if typing.get_origin(base) is dict:
        return _prices(value, f"{where}: {name}")
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if base is int and isinstance(value, bool):
            raise ValueError(value)
        return base(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} expects {base.__name__}, got {value!r}") from None


def _prices(value: Any, where: str) -> dict[str, list[float]]:
    """A price table: model -> [dollars per million input tokens, per million output tokens]."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{where} expects a JSON object, got {value!r}") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} expects a table of model = [input, output], got {value!r}")
    table = {}
    for model, pair in value.items():
        if not (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(p, int | float) for p in pair)
        ):
            raise ConfigError(
                f"{where}: {model!r} expects [input, output] dollars per million tokens, got {pair!r}"
            )
        table[str(model)] = [float(p) for p in pair]
    return table


def apply_overrides(config: Config, overrides: Mapping[str, Mapping[str, Any]], where: str) -> Config:
    """Set `section.field` values (None values in CLI overrides mean 'not given')."""
    sections = _sections(config)
    for section_name, values in overrides.items():
        if section_name not in sections:
            raise ConfigError(
                f"{where}: unknown section {section_name!r}; expected one of: {', '.join(sections)}"
            )
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: [{section_name}] must be a table, got {values!r}")
        section = sections[section_name]
        for name, value in values.items():
            setattr(section, name, _coerce(section, name, value, f"{where} [{section_name}]"))
    return config


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Defaults, then the TOML file, then environment variables, then CLI flags (None = not given)."""
    config = Config()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        apply_overrides(config, data, str(path))
    environ = os.environ if environ is None else environ
    from_env: dict[str, dict[str, Any]] = {}
    for variable, (section, name) in _ENV_ALIASES.items():
        if environ.get(variable):
            from_env.setdefault(section, {})[name] = environ[variable]
    for variable, value in environ.items():
        if variable.startswith("IMPLEMENT_") and "__" in variable:
            section, _, name = variable[len("IMPLEMENT_") :].lower().partition("__")
            from_env.setdefault(section, {})[name] = value
    apply_overrides(config, from_env, "environment variable")
    if flags:
        given = {s: {k: v for k, v in values.items() if v is not None} for s, values in flags.items()}
        apply_overrides(config, given, "command line")
    return config


def describe(config: Config) -> list[tuple[str, Any, str]]:
    """(section.field, value, help) rows, secrets masked: for `--help`-like listings."""
    rows = []
    for section_name, section in _sections(config).items():
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if (section_name, f.name) in _SECRETS and value:
                value = "***"
            rows.append((f"{section_name}.{f.name}", value, f.metadata.get("help", "")))
    return rows


def cache_root() -> Path:
    """Where the project caches what it derives (translations, converted models): $IMPLEMENT_CACHE_DIR,
    else ~/.cache/implement."""
    return Path(os.environ.get("IMPLEMENT_CACHE_DIR") or Path.home() / ".cache" / "implement")
