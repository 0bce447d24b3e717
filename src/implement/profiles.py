"""Profiles: named settings applied over the defaults, before the config file, variables and flags.

- `implement` (the default) is this project's choices: the defaults of `implement.config`,
  kept where they are measured improvements (`docs/deviations.md` says what each is worth).
- `paper` is the paper's algorithm as its text and its code define it: 5 imagination rounds,
  then one more call for the final choice; up to 8 proposals a round (the paper's intent: the
  reference parses one action a round, a bug); policy and belief sampled at temperature 1.0,
  the belief written by the policy's LLM; every world-model prediction sampled at temperature
  1.0 with top_p 0.9, 10 samples where it gathers information; 30 steps, 12 trials, 5
  environments, valid_unseen (the reference's `eval_out_of_distribution`), seed 928, MetaICL
  15 + 15; none of our additions (pruned choices, multi-step rollouts).

The LLM-free planner samples nothing: for it `paper` changes the rounds (a final call after 5
imagination rounds), the split, the seed and the trials; its beliefs stay exact counts, since
it has no LLM to write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from implement.errors import ConfigError

DEFAULT_PROFILE = "implement"

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "implement": {},
    "paper": {
        "environment": {"split": "valid_unseen", "max_steps": 30},
        "evaluation": {"trials": 12, "parallel": 5, "seed": 928},
        "llm": {"temperature": 1.0},
        "world_model": {
            "temperature": 1.0,
            "top_p": 0.9,
            "greedy_certain": False,
            "mc_samples": 10,
            "max_object_lists": 15,
            "max_failed_actions": 15,
        },
        "policy": {
            "summarizer": "policy",
            "max_interaction_rounds": 5,
            "final_call": True,
            "max_proposals": 8,
            "prune_unchanged": False,
            "rollout_depth": 0,
        },
    },
}


def chosen_profile(
    table: Mapping[str, Any], environ: Mapping[str, str], flags: Mapping[str, tuple[str, Any]]
) -> str:
    """The profile a flag names (the setting `profile`), else `IMPLEMENT_PROFILE`, else the config
    file's top-level `profile`, else the default; an unknown name is an error that says where it came from."""
    given = [(f"command line flag {f}", v) for f, (setting, v) in flags.items() if setting == "profile"]
    given += [
        ("environment variable IMPLEMENT_PROFILE", environ.get("IMPLEMENT_PROFILE")),
        ("config file", table.get("profile")),
    ]
    source, name = next(((s, v) for s, v in given if v), ("default", DEFAULT_PROFILE))
    if name not in PROFILES:
        raise ConfigError(f"{source}: unknown profile {name!r}; expected one of: {', '.join(PROFILES)}")
    return str(name)
