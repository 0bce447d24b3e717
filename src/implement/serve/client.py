"""The API's client side: `RemoteAgent` plays an episode through an `implement serve` server.

Per step it asks `/perception` for the state after the last command (the server's world
model, as the in-process agent perceives), then `/generate_policy` for the action, sending
the state, the command history and the task's MetaICL conditions. It keeps the trajectory
and, when the server's agent uses MetaICL, stores the conditions in the task's memory at
the end of the episode: `implement evaluate --api-url URL` plays exactly what the same
agent plays in process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from implement.agents import AgentBuilder, Oracle, policy_spec
from implement.agents.base import Agent, Decision, EpisodeOutcome, TaskMemory
from implement.config import Config
from implement.envs.base import Observation, Task
from implement.errors import AgentError, ConfigError, ImplementError
from implement.metaicl import Step, conditions_from_memory, remember_trajectory
from implement.state import SymbolicState
from implement.world_model.base import WorldModel
from implement.world_model.perception import initial_state


class ApiError(ImplementError):
    """The API server refused a request or could not be reached."""


class ApiClient:
    """Calls to one `implement serve` server (one connection pool)."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 600.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to `path`; its JSON answer."""
        try:
            response = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise ApiError(f"{self.url}{path}: {type(exc).__name__}: {exc}") from exc
        return _answer(response)

    def health(self) -> dict[str, Any]:
        """`/health`, synchronously (agents are built before the run's requests)."""
        try:
            response = httpx.get(f"{self.url}/health", timeout=30)
        except httpx.HTTPError as exc:
            raise ApiError(f"no API server at {self.url}: {exc}") from exc
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise ApiError(f"{response.request.url} answered {response.status_code}: {response.text[:500]}")
    data: dict[str, Any] = response.json()
    return data


class RemoteAgent:
    """An `Agent` whose perception and decisions are made by the API server."""

    name = "remote"

    def __init__(self, client: ApiClient, *, metaicl: bool) -> None:
        self.client = client
        self.metaicl = metaicl
        self._task: Task | None = None
        self._memory: TaskMemory | None = None
        self._state: SymbolicState | None = None
        self._history: list[tuple[str, bool]] = []
        self._trajectory: list[Step] = []
        self._last_action: str | None = None

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._task, self._memory = task, memory
        self._state, self._history, self._trajectory, self._last_action = None, [], [], None

    async def act(self, observation: Observation) -> Decision:
        if self._task is None or self._memory is None:
            raise AgentError("act() before reset()")
        if self._state is None or self._last_action is None:
            self._state = initial_state(observation.text)
        else:
            before, executed = self._state, observation.action or self._last_action
            sample = {
                "action": executed,
                "action_success": observation.succeeded,
                "old_state": before.to_dict(),
                "observation": observation.text,
            }
            (state,) = (await self.client.call("/perception", {"samples": [sample]}))["states"]
            self._state = SymbolicState.from_dict(state)
            self._history.append((executed, observation.succeeded))
            self._trajectory.append((before, executed, observation.succeeded, self._state))
        conditions = conditions_from_memory(self._memory.data).to_dict() if self.metaicl else None
        body = {
            "current_goals": [self._task.goal],
            "current_states": [self._state.to_dict()],
            "histories": [[{"action": a, "succeeded": ok} for a, ok in self._history]],
            "current_tasks": [self._task.task_type],
            "admissible_commands": [list(observation.admissible_commands)],
            "conditions_1": [conditions["object_lists"]] if conditions else None,
            "conditions_2": [conditions["failed_actions"]] if conditions else None,
        }
        (decision,) = (await self.client.call("/generate_policy", body))["decisions"]
        self._last_action = decision["action"]
        return Decision(decision["action"], decision["reasoning"], decision["details"], decision["usage"])

    def finish(self, outcome: EpisodeOutcome) -> None:
        if self.metaicl and self._memory is not None:
            remember_trajectory(self._memory.data, self._trajectory)


def remote_builder(url: str) -> AgentBuilder:
    """An agent builder (see `implement.agents.AgentBuilder`) for the server at `url`.

    The server must serve the agent, policy and world model this run's config names, so
    that run.json tells the truth about what played. The server's world model perceives:
    none can be given.
    """

    def build(
        config: Config, *, world_model: WorldModel | None = None, oracle: Oracle | None = None
    ) -> Callable[[], Agent]:
        if world_model is not None:
            raise ConfigError("a remote agent perceives with the API server's world model; none can be given")
        client = ApiClient(url, token=config.api.token)
        served = client.health()
        expected = {"agent": config.evaluation.agent, "policy": policy_spec(config),
                    "world_model": config.world_model.model, "metaicl": config.policy.metaicl,
                    "imagination": config.policy.imagination}  # fmt: skip
        if config.evaluation.agent != "implement":
            expected.pop("metaicl"), expected.pop("imagination")
        differ = [
            f"{k}: server {served.get(k)!r}, run {v!r}" for k, v in expected.items() if served.get(k) != v
        ]
        if differ:
            raise ConfigError(
                f"the API server at {url} serves another agent than this run's config ("
                + "; ".join(differ)
                + "); pass matching flags or start the server with them"
            )
        metaicl = bool(served.get("metaicl"))

        def new_agent() -> Agent:
            return RemoteAgent(client, metaicl=metaicl)

        return new_agent

    return build
