"""Agents and their registry: a name maps to a builder, run once per evaluation, of fresh agents.

A builder gets the config and returns a function making one agent per episode; what agents
share (a world model, LLM clients) is made once by the builder, or given to it: the API
server makes one world model, perceives with it and passes it on. Builders never see the
run's games: only the privileged agents (`PRIVILEGED_AGENTS`, the expert) are given an
`oracle`, the walkthrough of a game by its id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from implement.agents.base import Agent, Decision, EpisodeOutcome, StatelessAgent, TaskMemory
from implement.agents.belief import Belief
from implement.agents.implement import ImplementAgent, Summarizer, exact_summarizer
from implement.agents.planner import PlannerPolicy
from implement.agents.policy import Policy
from implement.agents.reference import ExpertAgent, RandomAgent
from implement.config import Config
from implement.errors import ConfigError, UnknownNameError
from implement.state import SymbolicState
from implement.world_model.base import WorldModel

logger = logging.getLogger(__name__)

Oracle = Callable[[str], list[str]]  # game id -> its walkthrough: privileged


class AgentBuilder(Protocol):
    """A maker of fresh agents for `config`.

    `world_model`: the one the agents share when the caller made it already; None: the
    builder makes the config's. Agents without a world model ignore it. `oracle`: given to
    the privileged agents only.
    """

    def __call__(
        self, config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
    ) -> Callable[[], Agent]: ...


# The registered agents that are `StatelessAgent`s (those the API server can serve).
STATELESS_AGENTS = ("implement", "vanilla")
# The registered agents that read the walkthroughs (an upper bound, never a result of the method).
PRIVILEGED_AGENTS = ("expert",)


def _expert(
    config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
) -> Callable[[], Agent]:
    if oracle is None:
        raise ConfigError("the expert replays walkthroughs: it needs the run's oracle (privileged)")
    return lambda: ExpertAgent(oracle)


def _random(
    config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
) -> Callable[[], Agent]:
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
        max_thought=config.policy.max_thought,
        prune_unchanged=config.policy.prune_unchanged,
    )


def make_summarizer(config: Config) -> Summarizer:
    """`exact` (sample counts), `policy` (the policy's LLM: the paper's choice; the planner has none, so
    its beliefs stay exact) or an LLM spec: the paper's summarizer, text written by the model at
    `llm.temperature`."""
    spec = config.policy.summarizer
    if spec == "policy":
        spec = policy_spec(config) if policy_spec(config) != "planner" else "exact"
    if spec == "exact":
        return exact_summarizer
    from implement.agents.belief import llm_belief
    from implement.llm import make_chat_model

    chat_model = make_chat_model(spec, config.llm)

    async def summarize(state: SymbolicState, action: str, samples: list[SymbolicState]) -> Belief:
        return await llm_belief(
            chat_model, state, action, samples,
            max_tokens=config.llm.max_tokens, temperature=config.llm.temperature,
        )  # fmt: skip

    return summarize


def _world_model(config: Config, given: WorldModel | None) -> WorldModel:
    from implement.world_model.registry import make_world_model

    return given if given is not None else make_world_model(config.world_model.model, config)


def _implement(
    config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
) -> Callable[[], Agent]:
    if config.policy.rollout_depth and policy_spec(config) == "planner":
        logger.warning("policy.rollout_depth informs LLM policies; the planner follows its own sub-goals")
    shared = _world_model(config, world_model)
    new_policy = make_policy(config)
    summarizer = make_summarizer(config)
    return lambda: ImplementAgent(
        new_policy(),
        shared,
        summarizer=summarizer,
        mc_samples=config.world_model.mc_samples,
        max_rounds=config.policy.max_interaction_rounds,
        final_call=config.policy.final_call,
        max_proposals=config.policy.max_proposals,
        imagination=config.policy.imagination,
        metaicl=config.policy.metaicl,
        rollout_depth=config.policy.rollout_depth,
    )


def _vanilla(
    config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
) -> Callable[[], Agent]:
    """The LLM policy on the symbolic state, with neither imagination nor MetaICL."""
    from implement.agents.baselines import require_llm

    require_llm(policy_spec(config), "vanilla")
    shared = _world_model(config, world_model)
    new_policy = make_policy(config)
    return lambda: ImplementAgent(new_policy(), shared, imagination=False, metaicl=False, name="vanilla")


def _react(
    config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
) -> Callable[[], Agent]:
    from implement.agents.baselines import ReactAgent, require_llm
    from implement.llm import make_chat_model

    chat_model = make_chat_model(require_llm(policy_spec(config), "react"), config.llm)
    return lambda: ReactAgent(
        chat_model, max_tokens=config.llm.max_tokens, temperature=config.llm.temperature
    )


def _reflexion(
    config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
) -> Callable[[], Agent]:
    from implement.agents.baselines import ReflexionAgent, require_llm
    from implement.llm import make_chat_model

    chat_model = make_chat_model(require_llm(policy_spec(config), "reflexion"), config.llm)
    return lambda: ReflexionAgent(
        chat_model, max_tokens=config.llm.max_tokens, temperature=config.llm.temperature
    )


AGENTS: dict[str, AgentBuilder] = {
    "implement": _implement,
    "expert": _expert,
    "random": _random,
    "vanilla": _vanilla,
    "react": _react,
    "reflexion": _reflexion,
}


def agent_builder(name: str) -> AgentBuilder:
    """The builder registered under `name`; an unknown name lists the valid ones."""
    if name not in AGENTS:
        raise UnknownNameError("agent", name, list(AGENTS))
    return AGENTS[name]


__all__ = [
    "AGENTS",
    "PRIVILEGED_AGENTS",
    "STATELESS_AGENTS",
    "Agent",
    "AgentBuilder",
    "Decision",
    "EpisodeOutcome",
    "Oracle",
    "StatelessAgent",
    "TaskMemory",
    "agent_builder",
]
