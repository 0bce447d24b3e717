"""The IMPLEMENT agent with the planner policy: goals, policy iteration records, MetaICL across trials."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alfworld.gen import goal_library

from fake_openai import FakeOpenAIServer
from implement.agents import Agent
from implement.agents.belief import exact_belief
from implement.agents.goals import GoalParseError, parse_goal
from implement.agents.implement import ImplementAgent
from implement.agents.planner import PlannerPolicy
from implement.agents.policy import PolicyView
from implement.agents.rollout import goal_progress
from implement.config import Config
from implement.envs.admissible import derive_admissible_commands, type_facts
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import TASK_TYPES, Game, read_walkthrough
from implement.errors import ConfigError
from implement.eval.runner import evaluate
from implement.llm.base import LLMError
from implement.llm.openai_chat import OpenAIChatModel
from implement.llm.scripted import Script
from implement.state import SymbolicState
from implement.world_model.llm import LLMWorldModel
from implement.world_model.perception import initial_state, update_state
from implement.world_model.symbolic import SymbolicWorldModel
from recording import Recorder


def make_config(data_root: Path, **evaluation: Any) -> Config:
    config = Config()
    config.environment.data_dir = str(data_root)
    config.environment.split = "tiny"
    config.evaluation.agent = "implement"
    config.evaluation.parallel = 2
    for key, value in evaluation.items():
        section = config.policy if hasattr(config.policy, key) else config.evaluation
        setattr(section, key, value)
    return config


def run(config: Config, out: Path, **kwargs: Any) -> dict[str, Any]:
    return asyncio.run(evaluate(config, out, **kwargs))


def episodes(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def step_lines(out: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for f in sorted((out / "steps").rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


# ---------------------------------------------------------------- goals


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_every_alfworld_template_parses(task_type: str) -> None:
    for template in goal_library.gdict[task_type]["templates"]:
        sentence = template.format(obj="apple", recep="fridge", toggle="desklamp", mrecep="") + "."
        goal = parse_goal(f"Your task is to: {sentence}")
        assert goal.task_type == task_type and goal.object_type == "apple", sentence
        if task_type == "look_at_obj_in_light":
            assert goal.lamp_type == "desklamp" and goal.count == 0
        else:
            assert goal.receptacle_type == "fridge"
    assert parse_goal("put two apple in fridge.").count == 2
    assert parse_goal("heat some egg and put it in countertop.").appliance_type == "microwave"
    assert parse_goal("put a clean plate in cabinet.").required_state == "clean"


def test_other_sentences_are_refused() -> None:
    with pytest.raises(GoalParseError, match="not an ALFWorld task sentence"):
        parse_goal("make me a sandwich")


# ---------------------------------------------------------------- belief


def test_exact_belief_counts_the_samples() -> None:
    state = SymbolicState.from_dict(
        {"agent_location": "middle of room", "inventory": "nothing",
         "world_state": {"fridge 1": {"visited": False, "open": False, "objects": []}}}
    )  # fmt: skip
    samples = SymbolicWorldModel.default().predict_sync(state, "go to fridge 1", n=10)
    belief = exact_belief(state, "go to fridge 1", samples)
    assert belief.samples == 10 and belief.p_changes == 1.0 and belief.locations == {"fridge 1": 1.0}
    shares = belief.contents["fridge 1"]
    assert shares and all(0 < v <= 1 for v in shares.values())
    assert "fridge 1 shows:" in belief.text and sum(c for _, c in belief.outcomes) == 10
    assert exact_belief(state, "dance", []).samples == 0


def test_a_search_proposes_one_receptacle_of_each_type_first() -> None:
    """Receptacles of a type look alike before they are seen: the first proposals span the types."""
    names = [f"cabinet {i}" for i in range(1, 7)] + ["countertop 1", "drawer 1", "drawer 2", "fridge 1"]
    seen = ", ".join(f"a {n}" for n in names[:-1]) + f", and a {names[-1]}"
    state = initial_state(f"You are in the middle of a room. Looking quickly around you, you see {seen}.")
    admissible = tuple(f"go to {n}" for n in names)
    found = PlannerPolicy().candidates(parse_goal("put some apple in fridge."), state, admissible)
    assert [c.receptacle for c in found[:4]] == ["cabinet 1", "countertop 1", "drawer 1", "fridge 1"]
    assert [c.receptacle for c in found[4:6]] == ["cabinet 2", "drawer 2"]
    assert {c.receptacle for c in found} == set(names) and all(c.sought == "apple" for c in found)


def test_a_receptacle_arrived_at_without_an_open_command_is_not_searched_again() -> None:
    """A world model that perceives an open shelf as closed must not send the agent back to it:
    the admissible commands there (no `open`) show that its inside was seen."""
    names = ["cabinet 1", "cabinet 2", "cabinet 3"]
    state = initial_state("You are in the middle of a room. Looking quickly around you, you see "
                          "a cabinet 1, a cabinet 2, and a cabinet 3.")  # fmt: skip

    def arrived(state: SymbolicState, name: str) -> SymbolicState:  # misperceived as closed
        data = state.to_dict()
        data["world_state"][name] = {"visited": True, "open": False, "objects": []}
        return SymbolicState.from_dict({**data, "agent_location": name})

    at_1 = arrived(state, "cabinet 1")
    at_2 = arrived(at_1, "cabinet 2")
    policy = PlannerPolicy()
    policy.reset("put some apple in fridge.", "pick_and_place_simple")

    def proposals(state: SymbolicState, history: list[tuple[str, bool]]) -> list[str]:
        here = state.agent_location
        view = PolicyView("put some apple in fridge.", "pick_and_place_simple", state, history,
                          tuple(f"go to {n}" for n in names if n != here), {}, 1, False)  # fmt: skip
        return asyncio.run(policy.decide(view)).proposals

    assert proposals(at_1, [("go to cabinet 1", True)]) == ["go to cabinet 2", "go to cabinet 3"]
    assert proposals(at_2, [("go to cabinet 1", True), ("go to cabinet 2", True)]) == ["go to cabinet 3"]
    fresh = PlannerPolicy()  # without the arrivals, the misperceived states would send it back
    found = fresh.candidates(
        parse_goal("put some apple in fridge."), at_2, ("go to cabinet 1", "go to cabinet 3")
    )
    assert [c.action for c in found] == ["go to cabinet 1", "go to cabinet 3"]


def test_an_admissible_take_of_the_goal_object_is_a_candidate_the_state_missed() -> None:
    """The environment offers `take mug 2 from coffeemachine 1` while the perceived state lists
    nothing there: the planner takes it instead of searching on."""
    state = initial_state("You are in the middle of a room. Looking quickly around you, you see "
                          "a coffeemachine 1, and a fridge 1.")  # fmt: skip
    here = SymbolicState.from_dict({**state.to_dict(), "agent_location": "coffeemachine 1"})
    admissible = ("go to fridge 1", "take mug 2 from coffeemachine 1", "take cup 1 from coffeemachine 1")
    found = PlannerPolicy().candidates(parse_goal("put a clean mug in coffeemachine."), here, admissible)
    assert [c.action for c in found] == ["take mug 2 from coffeemachine 1"]
    two = parse_goal("put two mug in coffeemachine.")  # those in the target already count
    assert [c.action for c in PlannerPolicy().candidates(two, here, admissible)] == ["go to fridge 1"]


def test_one_round_without_a_final_call_is_refused() -> None:
    """The only round would have to choose before anything is imagined."""
    with pytest.raises(ConfigError, match="max_interaction_rounds = 1 leaves no round"):
        ImplementAgent(PlannerPolicy(), SymbolicWorldModel(), max_rounds=1)
    ImplementAgent(PlannerPolicy(), SymbolicWorldModel(), max_rounds=1, final_call=True)
    ImplementAgent(PlannerPolicy(), SymbolicWorldModel(), max_rounds=1, imagination=False)


# ---------------------------------------------------------------- the agent on built games


def test_planner_with_the_symbolic_model_solves_every_task_type(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = run(make_config(data_root, trials=1), out)
    assert summary["sr_at"]["1"] == 1.0 and summary["errors"] == 0
    assert {e["task_type"] for e in episodes(out)} == set(TASK_TYPES)
    decided = [line["decision"] for line in step_lines(out) if "decision" in line]
    assert decided and all(d["details"]["fallback"] is None for d in decided)
    rounds = [r for d in decided for r in d["details"]["rounds"]]
    imagined = [b for r in rounds for b in r.get("imagined", [])]
    assert imagined and all({"action", "samples", "p_changes", "text"} <= set(b) for b in imagined)
    chosen = [r["reply"]["choice"] for r in rounds if r["reply"]["choice"]]
    assert len(chosen) == len(decided)  # every step ends in a choice among imagined actions
    assert all(len(d["details"]["rounds"]) <= 5 for d in decided)


def test_metaicl_makes_later_trials_shorter_and_ablations_run(data_root: Path, tmp_path: Path) -> None:
    with_memory = run(make_config(data_root, trials=2, replay_solved=True), tmp_path / "metaicl")
    without = run(make_config(data_root, trials=2, replay_solved=True, metaicl=False), tmp_path / "none")
    first, second = with_memory["by_trial"]
    assert first["solved"] == second["solved"] == 6
    assert second["steps_ratio_to_walkthrough"] < first["steps_ratio_to_walkthrough"]
    assert (
        without["by_trial"][1]["steps_ratio_to_walkthrough"]
        == without["by_trial"][0]["steps_ratio_to_walkthrough"]
    )
    memories = [json.loads(line) for line in (tmp_path / "none" / "memory.jsonl").read_text().splitlines()]
    assert all(m["data"] == {} for m in memories)

    blind = run(make_config(data_root, trials=1, imagination=False), tmp_path / "blind")
    assert blind["sr_at"]["1"] == 1.0
    decided = [line["decision"] for line in step_lines(tmp_path / "blind") if "decision" in line]
    assert all(
        len(d["details"]["rounds"]) == 1 and "imagined" not in d["details"]["rounds"][0] for d in decided
    )


def two_games_root(tmp_path: Path, *games: Game) -> Path:
    """A data root whose split `pair` holds copies of the given built games."""
    root = tmp_path / "data"
    for game in games:
        version = game.path.parents[3].name  # <version>/<split>/<task folder>/<trial>/game.tw-pddl
        target = root / version / "pair" / game.path.parent.parent.name / game.path.parent.name
        target.mkdir(parents=True)
        shutil.copy(game.path, target / game.path.name)
    return root


def test_metaicl_conditions_reach_the_prompt_of_the_same_game_only(
    tiny_games: list[Game], data_root: Path, tmp_path: Path
) -> None:
    """Two games over an LLM world model served over HTTP: trial 2's prompts carry trial 1's lists."""
    heat = next(g for g in tiny_games if g.task_type == "pick_heat_then_place_in_recep")  # has a fridge
    bedroom = next(g for g in tiny_games if g.task_type == "pick_and_place_simple")  # has a bed
    server = FakeOpenAIServer(Script.from_dict({"default": "no idea"}))
    with server.running() as url:
        recorder = Recorder(OpenAIChatModel("fake-model", base_url=url, api_key="k"))

        def builder(config: Config, **_: Any) -> Callable[[], Agent]:
            world_model = LLMWorldModel(recorder, max_tokens=64)
            return lambda: ImplementAgent(PlannerPolicy(), world_model, mc_samples=2, max_rounds=2)

        config = make_config(two_games_root(tmp_path, heat, bedroom), trials=2, replay_solved=True)
        config.environment.split, config.evaluation.parallel, config.environment.max_steps = "pair", 1, 8
        summary = run(config, tmp_path / "run", builder=builder)
    assert summary["episodes"] == 4
    assert summary["usage"]["llm_calls"] == server.stats.requests > 0  # every request, in its agent's steps
    lines = (tmp_path / "run" / "memory.jsonl").read_text().splitlines()
    memory = {m["game_id"].split("/", 1)[1]: m["data"] for m in map(json.loads, lines)}
    lists = memory[heat.id.split("/", 1)[1]]["metaicl_conditions"]["object_lists"]
    assert lists, "trial 1 of the heat game saw inside some receptacles"
    head = "What earlier trials of this same task showed:"
    heat_prompts = [p for p in recorder.prompts() if "fridge 1" in p and "bed 1" not in p]
    bedroom_prompts = [p for p in recorder.prompts() if "bed 1" in p and "fridge 1" not in p]
    assert len(heat_prompts) + len(bedroom_prompts) == len(recorder.prompts()) > 0
    with_conditions = [p for p in heat_prompts if head in p]
    assert with_conditions, "trial 2 of the heat game conditions its predictions"
    expected = [f"- {r}: {', '.join(types) if types else 'nothing'}" for r, types in lists.items()]
    assert any(all(line in p for line in expected) for p in with_conditions)
    assert not any(name in p for p in bedroom_prompts for name in ("fridge 1", "microwave 1", "countertop 1"))


def test_the_llm_summarizer_writes_the_belief_text_over_http() -> None:
    """`policy.summarizer = <LLM spec>`: the text comes from the model, the counts stay exact."""
    from fake_openai import FaultPlan
    from implement.agents import make_summarizer

    state = SymbolicState.from_dict(
        {"agent_location": "middle of room", "inventory": "nothing",
         "world_state": {"fridge 1": {"visited": False, "open": False, "objects": []}}}
    )  # fmt: skip
    samples = SymbolicWorldModel.default().predict_sync(state, "go to fridge 1", n=10)
    exact = exact_belief(state, "go to fridge 1", samples)
    script = Script.from_dict(
        {"rules": [{"match": "Imagined changes", "responses": ["Likely an egg inside."]}]}
    )
    for faults in (FaultPlan(), FaultPlan(rate=1.0, kinds=("500",))):
        with FakeOpenAIServer(script, faults=faults).running() as url:
            config = Config()
            config.policy.summarizer = f"openai:fake-model@{url}"
            config.llm.api_key, config.llm.max_retries = "k", 0
            summarize = make_summarizer(config)
            if faults.rate:  # a failed request is no belief: it raises, for the episode to fail
                with pytest.raises(LLMError, match=r"request failed .*500"):
                    asyncio.run(summarize(state, "go to fridge 1", samples))
                continue
            belief = asyncio.run(summarize(state, "go to fridge 1", samples))
        assert belief.text == "go to fridge 1: Likely an egg inside." and belief.summary_error is None
        assert (belief.contents, belief.p_changes) == (exact.contents, exact.p_changes)


# ---------------------------------------------------------------- multi-step imagination


def test_goal_progress_credits_each_sub_goal() -> None:
    goal = parse_goal("put a hot egg in countertop.")
    room = {"countertop 1": {"visited": True, "open": "N/A", "objects": []},
            "fridge 1": {"visited": True, "open": True, "objects": ["egg 1"]}}  # fmt: skip

    def state(location: str, inventory: str, **objects: list[str]) -> SymbolicState:
        world = {n: {**r, "objects": objects.get(n.replace(" ", "_"), r["objects"])} for n, r in room.items()}
        return SymbolicState.from_dict(
            {"agent_location": location, "inventory": inventory, "world_state": world}
        )

    assert goal_progress(goal, state("fridge 1", "nothing")) == 0.25
    assert goal_progress(goal, state("fridge 1", "egg 1", fridge_1=[])) == 0.5
    assert goal_progress(goal, state("fridge 1", "egg 1(hot)", fridge_1=[])) == 0.75
    assert goal_progress(goal, state("countertop 1", "nothing", fridge_1=[], countertop_1=["egg 1"])) == 0.25
    assert (
        goal_progress(goal, state("countertop 1", "nothing", fridge_1=[], countertop_1=["egg 1(hot)"])) == 1.0
    )
    two = parse_goal("put two egg in countertop.")
    assert goal_progress(two, state("countertop 1", "egg 2", countertop_1=["egg 3"])) == 0.75


def test_rollouts_admit_every_walkthrough_step(tiny_games: list[Game]) -> None:
    """Rollouts can follow the real plan: each walkthrough command is among those the state admits."""
    env = AlfworldEnv(max_steps=50)
    for game in tiny_games:
        _, obs = env.reset(game)
        state = initial_state(obs.text)
        for action in read_walkthrough(game):
            assert action in derive_admissible_commands(state, type_facts()), (game.id, action)
            obs = env.step(action)
            state = update_state(state, action, obs.text)


def test_multi_step_imagination_scores_beliefs_and_still_solves(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = run(make_config(data_root, trials=1, rollout_depth=3), out)
    assert summary["sr_at"]["1"] == 1.0 and summary["errors"] == 0
    imagined = [
        b for line in step_lines(out) if "decision" in line
        for r in line["decision"]["details"]["rounds"] for b in r.get("imagined", [])
    ]  # fmt: skip
    assert imagined and all(b["lookahead"] is not None and 0 <= b["lookahead"] <= 1 for b in imagined)
    assert any(b["lookahead"] == 1.0 for b in imagined) and all(
        "steps further" in b["text"] for b in imagined
    )
