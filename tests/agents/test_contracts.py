"""The contract checkers over every registered agent and the world models, on the built games."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from implement.agents import AGENTS, STATELESS_AGENTS, Oracle, agent_builder
from implement.agents.base import Decision, EpisodeOutcome, StatelessAgent, TaskMemory
from implement.agents.checker import check_agent
from implement.agents.reference import RandomAgent
from implement.config import Config
from implement.envs.alfworld import AlfworldEnv
from implement.envs.base import Observation, Task
from implement.envs.games import Game, read_walkthrough
from implement.errors import ContractError
from implement.metaicl import Conditions
from implement.state import SymbolicState
from implement.world_model.checker import check_world_model
from implement.world_model.perception import initial_state
from implement.world_model.registry import make_world_model
from implement.world_model.symbolic import SymbolicWorldModel

pytestmark = pytest.mark.timeout(120)

SCRIPTED_POLICY = Path(__file__).resolve().parents[2] / "examples" / "scripted_policy.json"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlfworldEnv]:
    yield AlfworldEnv(max_steps=4, cache_dir=tmp_path_factory.mktemp("sas-cache"))


def config_with(policy: str | None) -> Config:
    """`policy`: an LLM spec for the policy and the baselines; None: the LLM-free planner."""
    config = Config()
    config.llm.model = policy
    return config


def oracle_of(games: list[Game]) -> Oracle:
    by_id = {g.id: g for g in games}
    return lambda game_id: read_walkthrough(by_id[game_id])


@pytest.mark.parametrize(
    ("agent", "policy"),
    [(name, f"scripted:{SCRIPTED_POLICY}") for name in AGENTS] + [("implement", None)],
    ids=[f"{name}-scripted" for name in AGENTS] + ["implement-planner"],
)
def test_every_registered_agent_keeps_the_contract(
    agent: str, policy: str | None, env: AlfworldEnv, tiny_games: list[Game]
) -> None:
    new_agent = agent_builder(agent)(config_with(policy), oracle=oracle_of(tiny_games))
    check_agent(new_agent(), env, tiny_games[0])


def test_the_stateless_agents_are_those_the_registry_names(tiny_games: list[Game]) -> None:
    """`STATELESS_AGENTS` (what the API server serves) agrees with the `StatelessAgent` protocol."""
    config = config_with(f"scripted:{SCRIPTED_POLICY}")
    stateless = {
        n
        for n in AGENTS
        if isinstance(agent_builder(n)(config, oracle=oracle_of(tiny_games))(), StatelessAgent)
    }
    assert stateless == set(STATELESS_AGENTS)


def test_every_world_model_keeps_the_contract(
    env: AlfworldEnv, tiny_games: list[Game], tmp_path: Path
) -> None:
    script = tmp_path / "states.json"
    state = SymbolicState.from_dict(
        {"agent_location": "fridge 1", "inventory": "nothing",
         "world_state": {"fridge 1": {"visited": True, "open": False, "objects": ["egg 1"]}}}
    )  # fmt: skip
    script.write_text(json.dumps({"default": state.to_json()}))
    config = Config()
    for spec in ("symbolic", f"scripted:{script}"):
        model = make_world_model(spec, config)
        for game in tiny_games:
            check_world_model(model, env, game)


# -- the checkers find what breaks the contract ------------------------------------------------------


class Careless(RandomAgent):
    """Acts before reset, and answers with what `answer` holds."""

    def __init__(self, answer: object = None) -> None:
        super().__init__()
        self._answer = answer
        self._reset = False

    def reset(self, task: Task, memory: TaskMemory) -> None:
        super().reset(task, memory)
        self._reset = True

    async def act(self, observation: Observation) -> Decision:
        if not self._reset:
            return Decision("look")
        return self._answer  # type: ignore[return-value]

    def finish(self, outcome: EpisodeOutcome) -> None:
        pass


class Strict(Careless):
    async def act(self, observation: Observation) -> Decision:
        if not self._reset:
            return await RandomAgent.act(self, observation)
        return self._answer  # type: ignore[return-value]


def test_an_agent_acting_before_reset_is_found(env: AlfworldEnv, tiny_games: list[Game]) -> None:
    with pytest.raises(
        ContractError, match=r"act\(\) before reset\(\): expected an ImplementError, got Decision"
    ):
        check_agent(Careless(), env, tiny_games[0])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("look", "expected a Decision, got str"),
        (Decision(""), "expected a non-empty str action, got ''"),
        (Decision("look", usage={"llm_calls": 1}), "expected usage keys .*, got \\['llm_calls'\\]"),
        (Decision("look", details={"state": {1, 2}}), "expected JSON-serializable data, got TypeError"),
    ],
)
def test_a_bad_decision_is_found(
    answer: object, expected: str, env: AlfworldEnv, tiny_games: list[Game]
) -> None:
    with pytest.raises(ContractError, match=expected):
        check_agent(Strict(answer), env, tiny_games[0])


class Miscounting(SymbolicWorldModel):
    """Always one prediction, whatever `n`."""

    async def predict(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]:
        return [initial_state("")]


def test_a_world_model_ignoring_n_is_found(env: AlfworldEnv, tiny_games: list[Game]) -> None:
    model = Miscounting.default()
    with pytest.raises(ContractError, match=r"predict\('go to .+', n=3\): expected 3 states, got 1"):
        check_world_model(model, env, tiny_games[0])
