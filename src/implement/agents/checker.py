"""`check_agent`: does an agent keep the reset / act / finish contract the runner relies on?

In the spirit of Gymnasium's `check_env`: it plays a short episode of a real game, checks
every answer, and raises `ContractError` saying what was expected and what came instead.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from implement.agents.base import USAGE_KEYS, Agent, Decision, EpisodeOutcome, TaskMemory
from implement.envs.base import Env, Observation
from implement.envs.games import Game
from implement.errors import ContractError, ImplementError


def check_agent(agent: Agent, env: Env, game: Game, *, steps: int = 3) -> None:
    """Check a fresh (never reset) agent over two episodes of `game`, `steps` steps each at most.

    Runs its own event loop: call it outside one (from a test or a script).
    """
    if steps < 1:
        raise ContractError(f"steps: expected at least 1, got {steps}")
    asyncio.run(_check(agent, env, game, steps))


async def _check(agent: Agent, env: Env, game: Game, steps: int) -> None:
    name = getattr(agent, "name", None)
    if not isinstance(name, str) or not name:
        raise ContractError(f"agent.name: expected a non-empty str, got {name!r}")
    task, observation = env.reset(game)
    await _act_before_reset(agent, observation)
    memory = TaskMemory(task.game_id)
    for trial in (1, 2):  # a second episode: reset must work again after finish
        memory.trial = trial
        await _episode(agent, env, game, memory, steps)


async def _act_before_reset(agent: Agent, observation: Observation) -> None:
    try:
        decision = await agent.act(observation)
    except ImplementError:
        return
    except Exception as exc:
        raise ContractError(
            f"act() before reset(): expected an ImplementError, got {type(exc).__name__}: {exc}"
        ) from exc
    raise ContractError(f"act() before reset(): expected an ImplementError, got {decision!r}")


async def _episode(agent: Agent, env: Env, game: Game, memory: TaskMemory, steps: int) -> None:
    """Reset the agent, play up to `steps` steps of the env's episode, finish it."""
    task, observation = env.reset(game)
    agent.reset(task, memory)
    actions: list[str] = []
    failed: list[str] = []
    while not observation.done and observation.step < steps:
        decision = await agent.act(observation)
        _check_decision(decision, observation.step)
        observation = env.step(decision.action)
        actions.append(observation.action or "")
        if not observation.succeeded:
            failed.append(observation.action or "")
    outcome = EpisodeOutcome(observation.won, observation.step, tuple(actions), tuple(failed))
    agent.finish(outcome)
    _serializable("the task memory after finish()", memory.to_dict())


def _check_decision(decision: Any, step: int) -> None:
    where = f"act() at step {step}"
    if not isinstance(decision, Decision):
        raise ContractError(f"{where}: expected a Decision, got {type(decision).__name__}")
    if not isinstance(decision.action, str) or not decision.action.strip():
        raise ContractError(f"{where}: expected a non-empty str action, got {decision.action!r}")
    usage = decision.usage
    if not isinstance(usage, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) for k, v in usage.items()
    ):
        raise ContractError(f"{where}: expected usage to map str to numbers, got {usage!r}")
    missing = sorted(set(USAGE_KEYS) - set(usage))
    if usage and missing:
        raise ContractError(f"{where}: expected usage keys {list(USAGE_KEYS)}, got {sorted(usage)}")
    _serializable(f"{where}: decision.to_dict()", decision.to_dict())


def _serializable(what: str, value: object) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ContractError(
            f"{what}: expected JSON-serializable data, got {type(exc).__name__}: {exc}"
        ) from exc
