"""`implement serve`: the IMPLEMENT agent behind a FastAPI server (the seed's port, 30972).

- `GET|POST /health`: status ("healthy", as the reference's), the agent, policy and world model
  served, versions, limits.
- `POST /generate_policy`: one action per environment (the seed's batch schema). The server
  is stateless: the client perceives (`/perception`) and sends the current state, the
  history of commands and the task's MetaICL conditions; a fresh agent restores them and
  runs one step of policy iteration (propose, imagine, believe, choose).
- `POST /perception`: the state after an action, read by the world model.
- `POST /predict`: `n` imagined states after an action (Monte Carlo where uncertain).
- `/`: the dashboard of the runs under `runs` (when given); `/docs`: the OpenAPI docs.

`/generate_policy` and `/perception` also take the reference server's bodies (the paper's code;
`implement.serve.reference`) and then answer as it does: a bare list of actions, a list of
state strings in its dialect. A reference policy request carries no admissible commands: they
are derived from each state (`implement.envs.admissible`).

Every endpoint but health needs `Authorization: Bearer TOKEN` when a token is set
(`--token` or `IMPLEMENT_API__TOKEN`). Bodies over `api.max_body_bytes` and batches over
`api.max_batch` are refused with 413; malformed bodies get 422 with pydantic's account of
what is wrong.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Discriminator, Tag
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from implement.agents import STATELESS_AGENTS, agent_builder, policy_spec
from implement.agents.base import Agent, StatelessAgent, TaskMemory
from implement.config import Config
from implement.envs.admissible import type_facts
from implement.envs.base import Task
from implement.errors import ConfigError, ImplementError
from implement.eval.rundir import versions
from implement.metaicl import store_conditions
from implement.serve.reference import (
    NEITHER_FORM,
    ReferencePerceptionRequest,
    ReferencePolicyRequest,
    perception_form,
    policy_form,
)
from implement.serve.schemas import (
    PerceptionRequest,
    PolicyRequest,
    PolicyResponse,
    PredictionRequest,
    PredictionsResponse,
    State,
    StatesResponse,
)
from implement.state import SymbolicState
from implement.world_model.base import UnreadableInputError, WorldModel
from implement.world_model.dialect import reference_text
from implement.world_model.registry import make_world_model

logger = logging.getLogger(__name__)
# At module level: FastAPI resolves the (postponed) annotations of endpoints from the module's names.
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]
# Either form of body: today's, or the reference server's (told apart by what only one form holds).
AnyPolicyRequest = Annotated[
    Annotated[PolicyRequest, Tag("implement")] | Annotated[ReferencePolicyRequest, Tag("reference")],
    Discriminator(policy_form, custom_error_type="body_form", custom_error_message=NEITHER_FORM),
]
AnyPerceptionRequest = Annotated[
    Annotated[PerceptionRequest, Tag("implement")] | Annotated[ReferencePerceptionRequest, Tag("reference")],
    Discriminator(perception_form, custom_error_type="body_form", custom_error_message=NEITHER_FORM),
]


class _BodyLimit:
    """413 for a request body over `limit` bytes: by its Content-Length up front, or as it is
    read (a chunked body has none)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            message = f"request body of {int(length)} bytes is over the limit of {self.limit}"
            await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # raised while the endpoint reads its body: a 413 answer
                raise HTTPException(413, f"request body over the limit of {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


class _Agents:
    """Makers of fresh agents, one per policy spec asked for (the server's own by default), all
    sharing the server's world model."""

    def __init__(self, config: Config, world_model: WorldModel) -> None:
        self.config, self.world_model = config, world_model
        self._makers: dict[str, Callable[[], Agent]] = {}

    def make(self, model: str | None) -> StatelessAgent:
        spec = model or policy_spec(self.config)
        name = self.config.evaluation.agent
        if spec not in self._makers:
            config = replace(self.config, policy=replace(self.config.policy, model=spec))
            self._makers[spec] = agent_builder(name)(config, world_model=self.world_model)
        agent = self._makers[spec]()
        if not isinstance(agent, StatelessAgent):
            raise ConfigError(
                f"the API serves the agents {', '.join(STATELESS_AGENTS)} (they decide from a state"
                f" perceived elsewhere), not {name!r}"
            )
        return agent


def create_app(config: Config, *, runs: Sequence[Path] = ()) -> FastAPI:
    """The API app for `config` (agent, policy, world model, api limits and token)."""
    world_model = make_world_model(config.world_model.model, config)
    agents = _Agents(config, world_model)
    agents.make(None)  # fail at start, not at the first request, on bad settings
    app = FastAPI(
        title="IMPLEMENT API",
        description="Model-based online policy iteration for embodied LLM agents (ALFWorld).",
        version=versions().get("implement", "unknown"),
    )
    app.add_middleware(_BodyLimit, limit=config.api.max_body_bytes)
    guarded = [Depends(_authorizer(config.api.token))]
    app.include_router(_health_router(config))
    app.include_router(_policy_router(agents, config.api.max_batch), dependencies=guarded)
    app.include_router(_world_model_router(world_model, config), dependencies=guarded)
    if runs:
        from implement.serve.dashboard import dashboard_router

        app.include_router(dashboard_router(list(runs)))
    return app


def _authorizer(token: str | None) -> Callable[[Credentials], None]:
    """The dependency that asks for `Authorization: Bearer TOKEN` (nothing when `token` is None)."""

    def authorized(credentials: Credentials) -> None:
        if token is None:
            return
        if credentials is None or not hmac.compare_digest(credentials.credentials, token):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    return authorized


def _check_batch(size: int, limit: int) -> None:
    if size > limit:
        raise HTTPException(413, f"batch of {size} is over the limit of {limit}")
    if size == 0:
        raise HTTPException(422, "the batch is empty")


def _health_router(config: Config) -> APIRouter:
    """`/health` (GET and POST): what is served, with the versions and limits."""
    router = APIRouter()
    served = config.evaluation.agent
    health = {
        "status": "healthy",
        "agent": served,
        "policy": policy_spec(config),
        "world_model": config.world_model.model,
        "imagination": config.policy.imagination and served == "implement",
        "metaicl": config.policy.metaicl and served == "implement",
        "max_batch": config.api.max_batch,
        "versions": versions(),
    }

    @router.get("/health", operation_id="health_get")
    @router.post("/health", operation_id="health_post")
    async def get_health() -> dict[str, Any]:
        return health

    return router


def _policy_router(agents: _Agents, max_batch: int) -> APIRouter:
    """`/generate_policy`: a fresh agent per environment restores its state and chooses."""
    router = APIRouter()

    async def decide(body: PolicyRequest, i: int) -> dict[str, Any]:
        agent = agents.make(body.model)
        memory = TaskMemory(game_id=f"request-{i}")
        store_conditions(memory.data, body.conditions(i))
        task = Task(game_id=memory.game_id, task_type=body.current_tasks[i], goal=body.current_goals[i])
        agent.reset(task, memory)
        agent.restore(body.current_states[i].symbolic(), [(h.action, h.succeeded) for h in body.histories[i]])
        admissible = body.admissible_commands[i] if body.admissible_commands else ()
        return (await agent.choose(admissible)).to_dict()

    @router.post("/generate_policy", response_model=PolicyResponse | list[str])
    async def generate_policy(request: AnyPolicyRequest) -> PolicyResponse | list[str]:
        """Today's body gets actions and decisions; the reference's, its bare list of actions."""
        if isinstance(request, ReferencePolicyRequest):
            answer = await generate(request.standard(type_facts(agents.world_model)))
            return answer.actions
        return await generate(request)

    async def generate(body: PolicyRequest) -> PolicyResponse:
        _check_batch(len(body), max_batch)
        try:
            agents.make(body.model)
        except ImplementError as exc:
            raise HTTPException(422, f"model {body.model!r}: {exc}") from exc
        try:
            decisions = await asyncio.gather(*(decide(body, i) for i in range(len(body))))
        except ImplementError as exc:
            raise HTTPException(502, f"the agent failed: {exc}") from exc
        return PolicyResponse(actions=[d["action"] for d in decisions], decisions=decisions)

    return router


def _world_model_router(world_model: WorldModel, config: Config) -> APIRouter:
    """`/perception` and `/predict`, answered by the server's world model."""
    router = APIRouter()
    max_batch = config.api.max_batch

    @router.post("/perception", response_model=StatesResponse | list[str])
    async def perception(request: AnyPerceptionRequest) -> StatesResponse | list[str]:
        """Today's body gets state objects; the reference's, state strings in its dialect."""
        if isinstance(request, ReferencePerceptionRequest):
            return [reference_text(s) for s in await perceive(request.standard())]
        return StatesResponse(states=[State.of(s) for s in await perceive(request)])

    async def perceive(body: PerceptionRequest) -> list[SymbolicState]:
        _check_batch(len(body.samples), max_batch)
        if any(not s.observation.strip() and s.frame is None for s in body.samples):
            raise HTTPException(422, "a sample has neither an observation text nor a frame")
        try:
            states = await asyncio.gather(
                *(world_model.perceive(s.old_state.symbolic(), s.perceived()) for s in body.samples)
            )
        except UnreadableInputError as exc:
            raise HTTPException(422, str(exc)) from exc
        except ImplementError as exc:
            raise HTTPException(502, f"perception failed: {exc}") from exc
        return list(states)

    @router.post("/predict", response_model=PredictionsResponse)
    async def predict(body: PredictionRequest) -> PredictionsResponse:
        _check_batch(len(body.samples), max_batch)
        n = body.n or config.world_model.mc_samples
        try:
            predicted = await asyncio.gather(
                *(
                    world_model.predict(s.state.symbolic(), s.action, s.conditions(), n=n)
                    for s in body.samples
                )
            )
        except ImplementError as exc:
            raise HTTPException(502, f"prediction failed: {exc}") from exc
        return PredictionsResponse(predictions=[[State.of(s) for s in states] for states in predicted])

    return router
