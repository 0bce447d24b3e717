"""Configuration: dataclasses whose defaults are the paper's settings.

Precedence: defaults < TOML file < environment variables < CLI flags. A TOML file has
one table per section (`[evaluation]`, `[environment]`, ...); an environment variable is
`IMPLEMENT_<SECTION>__<FIELD>` (e.g. `IMPLEMENT_EVALUATION__TRIALS=3`), plus
`OPENAI_API_KEY` / `OPENAI_BASE_URL` for the LLM endpoint. Unknown sections, fields or
`IMPLEMENT_*__*` variables are errors. Every field carries its help and its allowed range
(`ge`, `gt`, `le`, `lt`); a value out of range is an error that names the field, the value,
where it came from (file, variable, flag) and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from implement.config_fields import check_range, coerce
from implement.config_fields import config_field as _f
from implement.errors import ConfigError
from implement.profiles import DEFAULT_PROFILE, PROFILES, chosen_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

STRUCTURED_MODES = ("auto", "on", "off")
DIALECTS = ("implement", "reference")  # state conventions: ours (JSON), the paper's code's (Python literals)
TRAIN_METHODS = ("lora", "full")  # what training changes: an adapter, or every weight
WM_FORMATS = ("state", "diff")  # what a world model answers: the whole next state, or what changes


class _Section:
    """Base of the sections: the values' ranges are checked when a section is built."""

    def __post_init__(self) -> None:
        name = _section_names().get(type(self), type(self).__name__)
        for f in dataclasses.fields(typing.cast(Any, self)):
            check_range(f, getattr(self, f.name), f"{name}.{f.name}")
        self.check()

    def check(self) -> None:
        """Rules across fields, checked when built and after a load (none by default)."""


@dataclass
class EnvironmentConfig(_Section):
    split: str = _f("valid_seen", "ALFWorld split to play (train, valid_seen, valid_unseen, valid_train)")
    max_steps: int = _f(30, "steps per episode (paper: 30)", ge=1)
    data_dir: str | None = _f(None, "ALFWorld data root (default: $ALFWORLD_DATA or ~/.cache/alfworld)")


@dataclass
class EvaluationConfig(_Section):
    agent: str = _f("implement", "agent: implement, vanilla, react, reflexion, expert, random")
    games: int | None = _f(None, "number of games to sample from the split (default: all)", ge=1)
    trials: int = _f(12, "trials per game (paper: 12); a solved game is not played again", ge=1)
    parallel: int = _f(5, "environments played at once (paper: 5)", ge=1)
    replay_solved: bool = _f(False, "play solved games again in later trials (adaptation; SR@k unchanged)")
    seed: int = _f(0, "seed of game sampling and of every random choice", ge=0)
    conditions: str | None = _f(None, "MetaICL conditions directory that starts each listed game's memory")
    api_url: str | None = _f(None, "run the agent on an `implement serve` API server (default: in process)")
    out: str | None = _f(None, "run directory (default: runs/<agent>-<split>-<time>)")
    retry_errors: bool = _f(True, "--resume plays errored episodes again (off: they stay, as losses)")


@dataclass
class LLMConfig(_Section):
    model: str | None = _f(None, "model spec of the policy LLM (none: the LLM-free planner)")
    base_url: str | None = _f(None, "OpenAI-compatible endpoint ($OPENAI_BASE_URL)")
    api_key: str | None = _f(None, "API key ($OPENAI_API_KEY)", secret=True)
    temperature: float = _f(0.0, "policy sampling temperature", ge=0)
    max_tokens: int = _f(512, "completion tokens per policy call", ge=1)
    timeout: float = _f(60.0, "seconds per request before it is retried", gt=0)
    max_retries: int = _f(6, "retries on 429, 5xx, timeouts and connection errors", ge=0)
    concurrency: int = _f(16, "requests in flight per endpoint", ge=1)
    prices: dict[str, list[float]] = field(
        default_factory=dict,
        metadata={
            "help": "model -> [$ per 1M input, output (, cached input) tokens], over the built-in table"
        },
    )
    cache: str | None = _f(None, "SQLite response cache file (none: no cache)")
    structured: str = _f(
        "auto", "JSON-schema decoding: auto (where honoured), on, off", choices=STRUCTURED_MODES
    )
    chat_format: str | None = _f(
        None, "chat template of a local: GGUF without one (e.g. chatml, gemma); none: the file's own"
    )


@dataclass
class WorldModelConfig(_Section):
    model: str = _f("symbolic", "world model spec")
    mc_samples: int = _f(10, "Monte Carlo samples for information-gathering actions (paper: 10)", ge=1)
    temperature: float = _f(1.0, "sampling temperature of imagination (paper: 1.0)", ge=0)
    top_p: float = _f(1.0, "nucleus sampling of imagination (paper: 0.9; 1: off)", gt=0, le=1)
    greedy_certain: bool = _f(
        True, "predict actions that gather no information once, greedily (paper: sampled)"
    )
    dialect: str = _f("implement", "state conventions read and written", choices=DIALECTS)
    format: str = _f("state", "answers: the whole next state (paper), or what changes", choices=WM_FORMATS)
    max_tokens: int = _f(2048, "completion tokens per world-model answer (a full state)", ge=1)
    max_object_lists: int = _f(15, "MetaICL condition 1: object lists shown at most (paper: 15)", ge=0)
    max_failed_actions: int = _f(15, "MetaICL condition 2: failed actions shown at most (paper: 15)", ge=0)


@dataclass
class PolicyConfig(_Section):
    model: str | None = _f(None, "policy: planner, or an LLM spec (default: llm.model, else planner)")
    summarizer: str = _f("exact", "belief summary: exact (sample counts), policy (its LLM), or an LLM spec")
    max_interaction_rounds: int = _f(5, "policy-iteration rounds per step (paper: 5)", ge=1)
    final_call: bool = _f(
        False, "one more policy call to choose after the rounds (paper); off: the last round chooses"
    )
    max_proposals: int = _f(8, "new actions the policy may propose per round", ge=1)
    imagination: bool = _f(True, "imagine proposed actions with the world model (ablation: off)")
    metaicl: bool = _f(True, "MetaICL conditions across trials of a game (ablation: off)")
    rollout_depth: int = _f(
        0, "beyond the paper: imagined outcomes rolled further, for LLM policies (planner: no effect)", ge=0
    )
    prune_unchanged: bool = _f(True, "beyond the paper: no choice of actions imagined to change nothing")
    max_thought: int = _f(200, "characters of an LLM policy's thought under its schema (0: no thought)", ge=0)


@dataclass
class CollectConfig(_Section):
    """`implement collect`: the games played and the behaviour policy's shares after the first step."""

    split: str = _f("train", "ALFWorld split played for training data")
    num_tasks: int | None = _f(None, "seeded sample of this many games (default: the whole split)", ge=1)
    batch_size: int = _f(5, "environments played in parallel", ge=1)
    max_steps: int = _f(30, "steps per episode", ge=1)
    seed: int = _f(0, "seed of the task sample and the behaviour policy", ge=0)
    expert: float = _f(0.2, "share of steps taking the walkthrough's next command (paper: 0.2)", ge=0, le=1)
    admissible: float = _f(0.4, "share of steps taking a random admissible command (paper: 0.4)", ge=0, le=1)
    seen: float = _f(0.4, "share of steps taking a command admissible earlier (paper: 0.4)", ge=0, le=1)

    def check(self) -> None:
        shares = (self.expert, self.admissible, self.seen)
        if abs(sum(shares) - 1) > 1e-9:
            raise ConfigError(
                f"collect.expert, collect.admissible and collect.seen must sum to 1, got {shares}"
            )


@dataclass
class TrainingConfig(_Section):
    """`implement train`: the paper's hyper-parameters, then how one run goes."""

    base_model: str = _f("Qwen/Qwen2.5-VL-7B-Instruct", "base model of the world model")
    method: str = _f(
        "lora", "lora: a LoRA adapter (paper); full: every weight (small models)", choices=TRAIN_METHODS
    )
    lora_r: int = _f(16, "LoRA rank (paper: 16)", ge=1)
    lora_alpha: int = _f(16, "LoRA alpha (paper: 16)", ge=1)
    lora_dropout: float = _f(0.05, "LoRA dropout", ge=0, lt=1)
    learning_rate: float = _f(2e-5, "learning rate (paper: 2e-5)", gt=0)
    epochs: int = _f(3, "epochs (paper: 3)", ge=1)
    batch_size: int = _f(4, "per-device batch size (paper: 4)", ge=1)
    gradient_accumulation: int = _f(4, "gradient accumulation steps (paper: 4)", ge=1)
    max_grad_norm: float = _f(0.2, "gradient clipping norm (0: no clipping)", ge=0)
    weight_decay: float = _f(0.01, "AdamW weight decay (paper's code: 0.01)", ge=0)
    validation_fraction: float = _f(0.01, "share of samples held out for validation", ge=0, lt=1)
    max_steps: int | None = _f(None, "stop after this many optimizer steps (default: `epochs` epochs)", ge=1)
    max_minutes: float | None = _f(None, "stop training after this many minutes (at the end of a step)", gt=0)
    warmup_steps: float = _f(0, "learning-rate warm-up: N steps, or below 1 a share of the run's steps", ge=0)
    lr_scheduler: str = _f("linear", "learning-rate schedule (transformers' names: linear, cosine, constant)")
    max_length: int = _f(4096, "tokens per sample (prompt + answer); a full ALFWorld state fits", ge=1)
    seed: int = _f(0, "seed of the split, shuffling and LoRA init", ge=0)
    save_steps: int = _f(500, "keep a checkpoint every N steps (the last two)", ge=1)
    logging_steps: int | None = _f(
        None, "steps between loss logs (default: 1 when max_steps <= 50, else 10)", ge=1
    )
    eval_steps: int | None = _f(None, "validation loss every N steps (default: before and after only)", ge=1)
    gradient_checkpointing: bool = _f(True, "recompute activations in the backward pass: less memory, slower")
    device: str | None = _f(None, "cpu or cuda (default: cuda when available)")


@dataclass
class APIConfig(_Section):
    host: str = _f("127.0.0.1", "address the API server binds to")
    port: int = _f(30972, "API server port (the seed's)", ge=1, le=65535)
    token: str | None = _f(None, "bearer token required by the API", secret=True)
    max_batch: int = _f(64, "most environments (or samples) in one request", ge=1)
    max_body_bytes: int = _f(8 * 1024 * 1024, "largest request body accepted, in bytes", ge=1)


@dataclass
class Config:
    profile: str = DEFAULT_PROFILE  # the profile applied under the file, variables and flags
    environment: EnvironmentConfig = field(default_factory=EnvironmentConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    api: APIConfig = field(default_factory=APIConfig)

    def to_dict(self, *, secrets: bool = False) -> dict[str, Any]:
        """Plain data; API keys and tokens are left out unless `secrets`."""
        data = dataclasses.asdict(self)
        if not secrets:
            for section_name, section in sections(self).items():
                for f in dataclasses.fields(section):
                    if f.metadata.get("secret"):
                        data[section_name].pop(f.name)
        return data


_ENV_ALIASES = {"OPENAI_API_KEY": ("llm", "api_key"), "OPENAI_BASE_URL": ("llm", "base_url")}


@functools.cache
def _section_names() -> dict[type, str]:
    return {hint: name for name, hint in typing.get_type_hints(Config).items() if name != "profile"}


def sections(config: Config) -> dict[str, Any]:
    """The config's sections by name (`profile` is no section)."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "profile"}


def _section(config: Config, section_name: str, source: str) -> Any:
    known = sections(config)
    if section_name not in known:
        raise ConfigError(f"{source}: unknown section {section_name!r}; expected one of: {', '.join(known)}")
    return known[section_name]


def _assign(config: Config, section_name: str, name: str, value: Any, source: str) -> None:
    """Set `section_name.name` to `value`, type and range checked; `source` says where it came from."""
    section = _section(config, section_name, source)
    fields = {f.name: f for f in dataclasses.fields(section)}
    if name not in fields:
        raise ConfigError(
            f"{source}: unknown field {name!r} in [{section_name}]; expected one of: {', '.join(fields)}"
        )
    label = f"{source}: {section_name}.{name}"
    value = coerce(section, name, value, label)
    check_range(fields[name], value, label)
    setattr(section, name, value)


def apply_overrides(config: Config, overrides: Mapping[str, Mapping[str, Any]], source: str) -> Config:
    """Set `section.field` values given as tables of `{section: {field: value}}` (a TOML file's shape)."""
    for section_name, values in overrides.items():
        _section(config, section_name, source)
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: [{section_name}] must be a table, got {values!r}")
        for name, value in values.items():
            _assign(config, section_name, name, value, source)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, tuple[str, Any]] | None = None,
) -> Config:
    """Defaults, then the profile, then the TOML file, then environment variables, then CLI flags.

    `flags` maps each flag to the field it sets and its value, None when the flag was not
    given: `{"--trials": ("evaluation.trials", 3)}`; the setting `profile` names the profile
    (`implement.profiles`), as do `IMPLEMENT_PROFILE` and the file's top-level `profile` key.
    """
    table = _read_toml(path) if path is not None else {}
    environ = os.environ if environ is None else environ
    config = Config(profile=chosen_profile(table, environ, flags or {}))
    apply_overrides(config, PROFILES[config.profile], f"profile {config.profile}")
    apply_overrides(config, {k: v for k, v in table.items() if k != "profile"}, str(path))
    for variable, (section, name) in _ENV_ALIASES.items():
        if environ.get(variable):
            _assign(config, section, name, environ[variable], f"environment variable {variable}")
    for variable, value in environ.items():
        if variable.startswith("IMPLEMENT_") and "__" in variable:
            section, _, name = variable[len("IMPLEMENT_") :].lower().partition("__")
            _assign(config, section, name, value, f"environment variable {variable}")
    for flag, (setting, value) in (flags or {}).items():
        if value is not None and setting != "profile":
            section, _, name = setting.partition(".")
            _assign(config, section, name, value, f"command line flag {flag}")
    for section_object in sections(config).values():
        section_object.check()
    return config


def cache_root() -> Path:
    """Where the project caches what it derives (translations, converted models): $IMPLEMENT_CACHE_DIR,
    else ~/.cache/implement."""
    return Path(os.environ.get("IMPLEMENT_CACHE_DIR") or Path.home() / ".cache" / "implement")
