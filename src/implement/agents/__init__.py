"""Agents and their registry: a name maps to a factory of (config, games) -> Agent."""

from __future__ import annotations

from collections.abc import Callable

from implement.agents.base import Agent, Decision, EpisodeOutcome, TaskMemory
from implement.agents.reference import ExpertAgent, RandomAgent
from implement.config import Config
from implement.envs.games import Game, read_walkthrough
from implement.errors import UnknownNameError

AgentFactory = Callable[[Config, list[Game]], Agent]


def _expert(config: Config, games: list[Game]) -> Agent:
    by_id = {g.id: g for g in games}
    return ExpertAgent(lambda game_id: read_walkthrough(by_id[game_id]))


def _random(config: Config, games: list[Game]) -> Agent:
    return RandomAgent(seed=config.evaluation.seed)


AGENTS: dict[str, AgentFactory] = {"expert": _expert, "random": _random}


def make_agent(name: str, config: Config, games: list[Game]) -> Agent:
    """A fresh agent by registry name; an unknown name lists the valid ones."""
    if name not in AGENTS:
        raise UnknownNameError("agent", name, list(AGENTS))
    return AGENTS[name](config, games)


__all__ = ["AGENTS", "Agent", "Decision", "EpisodeOutcome", "TaskMemory", "make_agent"]
