"""Load on the API server: concurrent clients calling `/generate_policy` with the scripted policy.

The server (`implement serve`, IMPLEMENT agent: scripted LLM policy, symbolic world model)
runs in its own process. `--clients` clients each send `--calls` requests, one after
another, for the first step of a built game (one environment per request). Printed: errors,
requests per second, p50/p99 latency, and the ratio of the served p50 to a baseline
measured in the same run: the same decisions made in process (`ImplementAgent.choose`,
same concurrency), which is the cost that HTTP, JSON and validation add.

    python bench/server_load.py [--clients 20] [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from implement.agents import agent_builder
from implement.agents.base import TaskMemory
from implement.agents.implement import ImplementAgent
from implement.config import Config
from implement.envs.alfworld import AlfworldEnv
from implement.envs.base import Task
from implement.envs.games import DATA_VERSION, find_games
from implement.state import SymbolicState
from implement.world_model.perception import initial_state

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from alfgames import standard_games
from servers import subprocess_server

SCRIPT = Path(__file__).parent.parent / "examples" / "scripted_policy.json"
POLICY = f"scripted:{SCRIPT}"


def first_step(root: Path) -> tuple[Task, SymbolicState, list[str]]:
    standard_games(root / DATA_VERSION / "bench")
    game = find_games("bench", root)[0]
    task, observation = AlfworldEnv(max_steps=30).reset(game)
    return task, initial_state(observation.text), list(observation.admissible_commands)


async def load(
    clients: int, calls: int, request: Callable[[], Awaitable[Any]]
) -> tuple[list[float], int, float]:
    """Latencies of `clients` x `calls` requests, the errors, and the wall time."""
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        for _ in range(calls):
            started = time.perf_counter()
            try:
                await request()
            except Exception:  # counted: the benchmark reports them
                errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def describe(name: str, latencies: list[float], errors: int, wall: float) -> float:
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = statistics.median(latencies), cuts[98]
    print(f"{name:>10}: {len(latencies)} requests, {errors} errors, {len(latencies) / wall:7.1f} req/s, "
          f"p50 {p50 * 1000:7.1f} ms, p99 {p99 * 1000:7.1f} ms")  # fmt: skip
    return p50


async def served(url: str, body: dict[str, Any], clients: int, calls: int) -> tuple[list[float], int, float]:
    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=httpx.Limits(max_connections=clients)
    ) as http:

        async def request() -> None:
            answer = await http.post("/generate_policy", json=body)
            answer.raise_for_status()

        return await load(clients, calls, request)


async def in_process(
    task: Task, state: SymbolicState, admissible: list[str], clients: int, calls: int
) -> Any:
    config = Config()
    config.policy.model = POLICY
    new_agent = agent_builder("implement")(config)

    async def request() -> None:
        agent = new_agent()
        assert isinstance(agent, ImplementAgent)
        agent.reset(task, TaskMemory(task.game_id))
        agent.restore(state, [])
        await agent.choose(admissible)

    return await load(clients, calls, request)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        task, state, admissible = first_step(Path(tmp))
    body = {"current_goals": [task.goal], "current_states": [state.to_dict()], "histories": [[]],
            "current_tasks": [task.task_type], "admissible_commands": [admissible]}  # fmt: skip
    print(f"{args.clients} clients x {args.calls} calls to /generate_policy (policy {SCRIPT.name})")

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "implement.cli", "serve", "--port", str(port), "--policy", POLICY]

    with subprocess_server(command, timeout=60) as base_url:
        url = base_url.removesuffix("/v1")
        latencies, errors, wall = asyncio.run(served(url, body, args.clients, args.calls))
    served_p50 = describe("served", latencies, errors, wall)
    baseline = asyncio.run(in_process(task, state, admissible, args.clients, args.calls))
    process_p50 = describe("in process", *baseline)
    print(f"served p50 / in-process p50 = {served_p50 / process_p50:.2f}x")
    return 1 if errors or baseline[1] else 0


if __name__ == "__main__":
    sys.exit(main())
