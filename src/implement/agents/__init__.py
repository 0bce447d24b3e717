"""Agents and their registry: a name maps to a builder, run once per evaluation, of fresh agents.

A builder gets the config and the run's games and returns a function making one agent
per episode; what agents share (a world model, LLM clients) is made once by the builder.
"""

from __future__ import annotations

from collections.abc import Callable

from implement.agents.base import Agent, Decision, EpisodeOutcome, TaskMemory
from implement.agents.implement import ImplementAgent, exact_summarizer
from implement.agents.planner import PlannerPolicy
from implement.agents.policy import Policy
from implement.agents.reference import ExpertAgent, RandomAgent
from implement.config import Config
from implement.envs.games import Game, read_walkthrough
from implement.errors import ConfigError, UnknownNameError

AgentBuilder = Callable[[Config, list[Game]], Callable[[], Agent]]


def _expert(config: Config, games: list[Game]) -> Callable[[], Agent]:
    by_id = {g.id: g for g in games}
    return lambda: ExpertAgent(lambda game_id: read_walkthrough(by_id[game_id]))


def _random(config: Config, games: list[Game]) -> Callable[[], Agent]:
    return lambda: RandomAgent(seed=config.evaluation.seed)


def policy_spec(config: Config) -> str:
    """The policy to run: `policy.model`, else `llm.model`, else the LLM-free planner."""
    return config.policy.model or config.llm.model or "planner"


def make_policy(config: Config) -> Callable[[], Policy]:
    """A maker of fresh policies; an LLM policy's chat model is made once and shared by all of them."""
    spec = policy_spec(config)
    if spec == "planner":
        return lambda: PlannerPolicy(max_proposals=config.policy.max_proposals)
    from implement.agents.llm_policy import LLMPolicy
    from implement.llm import make_chat_model

    chat_model = make_chat_model(spec, config.llm)
    return lambda: LLMPolicy(
        chat_model,
        max_tokens=config.llm.max_tokens,
        temperature=config.llm.temperature,
        max_proposals=config.policy.max_proposals,
    )


def _implement(config: Config, games: list[Game]) -> Callable[[], Agent]:
    from implement.world_model.registry import make_world_model

    if config.policy.summarizer != "exact":
        raise ConfigError(
            f"summarizer {config.policy.summarizer!r}: LLM summaries are not wired yet; use exact"
        )
    world_model = make_world_model(config.world_model.model, config)
    new_policy = make_policy(config)
    return lambda: ImplementAgent(
        new_policy(),
        world_model,
        summarizer=exact_summarizer,
        mc_samples=config.world_model.mc_samples,
        max_rounds=config.policy.max_interaction_rounds,
        max_proposals=config.policy.max_proposals,
        imagination=config.policy.imagination,
        metaicl=config.policy.metaicl,
    )


AGENTS: dict[str, AgentBuilder] = {"implement": _implement, "expert": _expert, "random": _random}


def agent_builder(name: str) -> AgentBuilder:
    """The builder registered under `name`; an unknown name lists the valid ones."""
    if name not in AGENTS:
        raise UnknownNameError("agent", name, list(AGENTS))
    return AGENTS[name]


__all__ = ["AGENTS", "Agent", "AgentBuilder", "Decision", "EpisodeOutcome", "TaskMemory", "agent_builder"]
