"""The training-data pipeline on games the tests build: collect, prepare, curate, extract conditions."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import TINY_SPLIT
from implement.config import CollectConfig, Config
from implement.data.collect import TRAJECTORIES_FILE, collect, open_collection
from implement.data.curate import PERCEPTION_FILE, PREDICTION_FILE, curate
from implement.data.prepare import CONDITIONS_DIR, SAMPLES_FILE, prepare
from implement.errors import ConfigError, DataError, ImplementError
from implement.eval.runner import evaluate
from implement.jsonl import read_jsonl
from implement.metaicl import Conditions, extract_conditions, read_conditions, write_conditions
from implement.prompts.world_model import answer_message, perception_messages, prediction_messages
from implement.state import SymbolicState
from implement.world_model.base import action_target, closed_unvisited_target, is_information_gathering
from implement.world_model.perception import initial_state, update_state


def _settings(data_root: Path, **changes: Any) -> Config:
    config = Config(collect=CollectConfig(**{"split": TINY_SPLIT, "batch_size": 3, **changes}))
    config.environment.data_dir = str(data_root)
    return config


def _collect(settings: Config, out: Path, *, resume: bool = False) -> dict[str, Any]:
    return collect(settings, out, open_collection(settings, out, resume=resume))


@pytest.fixture(scope="module")
def collected(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collected")
    _collect(_settings(data_root, max_steps=25), out)
    return out


@pytest.fixture(scope="module")
def prepared(collected: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    prepare([collected], out, seed=1)
    return out


def test_collect_records_every_transition_as_the_parser_reads_it(collected: Path, tiny_games: list) -> None:
    trajectories = read_jsonl(collected / TRAJECTORIES_FILE)
    assert sorted(t["game"] for t in trajectories) == sorted(g.id for g in tiny_games)
    sources: Counter[str] = Counter()
    for trajectory in trajectories:
        state = initial_state(trajectory["intro"])
        assert trajectory["initial_state"] == state.to_dict()
        steps = trajectory["transitions"]
        assert steps[0]["source"] == "admissible"
        assert trajectory["won"] or len(steps) == 25
        for number, step in enumerate(steps, 1):
            assert step["step"] == number
            assert step["state_before"] == state.to_dict()
            state = update_state(state, step["action"], step["observation"])
            assert step["state_after"] == state.to_dict()
            assert step["success"] == (step["observation"] != "Nothing happens.")
            assert action_target(step["action"]) not in step["visible_receptacles"]
            sources[step["source"]] += 1
    # the behaviour mix: every source used, failures present (inadmissible "seen" commands)
    assert set(sources) == {"expert", "admissible", "seen"}
    assert any(not s["success"] for t in trajectories for s in t["transitions"])


def test_going_to_a_closed_receptacle_records_what_opening_it_shows(collected: Path) -> None:
    checked = 0
    for trajectory in read_jsonl(collected / TRAJECTORIES_FILE):
        hidden: dict[str, list[str]] = {}
        for step in trajectory["transitions"]:
            if "hidden_objects" in step:
                hidden[step["action"].removeprefix("go to ")] = step["hidden_objects"]
            if step["action"].startswith("open ") and step["success"]:
                name = step["action"].removeprefix("open ")
                if name in hidden:  # the engine's truth at arrival = what opening revealed
                    assert sorted(step["state_after"]["world_state"][name]["objects"]) == hidden[name]
                    checked += 1
    assert checked, "no closed receptacle was both reached and opened; raise max_steps"


def _by_game(out: Path) -> dict[str, dict[str, Any]]:
    return {t["game"]: t for t in read_jsonl(out / TRAJECTORIES_FILE)}


def test_collect_is_seeded_and_resumes_only_the_missing_games(data_root: Path, tmp_path: Path) -> None:
    settings = _settings(data_root, max_steps=8, num_tasks=4)
    a, b = tmp_path / "a", tmp_path / "b"
    _collect(settings, a)
    _collect(settings, b)
    assert _by_game(a) == _by_game(b)  # the same whatever order the parallel envs finished in

    # a killed run: the last trajectory is torn
    lines = (a / TRAJECTORIES_FILE).read_text().splitlines(keepends=True)
    (a / TRAJECTORIES_FILE).write_text("".join(lines[:2]) + lines[2][:50])
    with pytest.raises(ImplementError, match="--resume"):
        open_collection(settings, a)
    with pytest.raises(ConfigError, match="num_tasks: 4 -> 3"):
        open_collection(_settings(data_root, max_steps=8, num_tasks=3), a, resume=True)
    pending = open_collection(settings, a, resume=True)
    assert len(pending) == 2
    counts = collect(settings, a, pending)
    assert counts["trajectories"] == 4
    assert _by_game(a) == _by_game(b)


def test_behaviour_shares_are_checked() -> None:
    with pytest.raises(ConfigError, match="sum to 1"):
        CollectConfig(expert=0.5, admissible=0.5, seen=0.5)


def test_prepare_samples_random_subsets_of_each_games_conditions(collected: Path, prepared: Path) -> None:
    conditions = read_conditions(prepared / CONDITIONS_DIR)
    samples = read_jsonl(prepared / SAMPLES_FILE)
    transitions = [s for t in read_jsonl(collected / TRAJECTORIES_FILE) for s in t["transitions"]]
    assert len(samples) == len(transitions)
    list_sizes, failed_sizes = set(), set()
    for sample in samples:
        game = conditions[sample["game"]]
        before = SymbolicState.from_dict(sample["state_before"])
        assert sample["information_gathering"] == is_information_gathering(before, sample["action"])
        if not sample["information_gathering"]:
            assert sample["object_lists"] == []
        assert set(sample["object_lists"]) <= set(game.object_lists)
        assert all(0 <= i < len(game.failed_actions) for i in sample["failed_actions"])
        if sample["information_gathering"]:
            list_sizes.add(len(sample["object_lists"]) / max(1, len(game.object_lists)))
        failed_sizes.add(len(sample["failed_actions"]) / max(1, len(game.failed_actions)))
    assert 0 in failed_sizes and 1 in failed_sizes and len(failed_sizes) > 3  # sizes spread over 0..all
    assert 0 in list_sizes and len(list_sizes) > 2
    # the failed actions of a game are those its trajectory shows
    failed = {(s["game"], s["action"]) for s in samples if not s["success"]}
    assert {(g, f.action) for g, c in conditions.items() for f in c.failed_actions} == failed


def test_curate_builds_the_inference_prompts(prepared: Path, tmp_path: Path) -> None:
    report = curate([prepared / SAMPLES_FILE], tmp_path)
    samples = read_jsonl(prepared / SAMPLES_FILE)
    conditions = read_conditions(prepared / CONDITIONS_DIR)
    perception, prediction = read_jsonl(tmp_path / PERCEPTION_FILE), read_jsonl(tmp_path / PREDICTION_FILE)
    assert report.perception == report.prediction == len(samples) == len(perception) == len(prediction)
    sample, per = samples[3], perception[3]
    before, after = (
        SymbolicState.from_dict(sample["state_before"]),
        SymbolicState.from_dict(sample["state_after"]),
    )
    expected = perception_messages(
        before,
        sample["action"],
        sample["observation"],
        succeeded=sample["success"],
        visible=sample["visible_receptacles"],
    )
    assert per["mode"] == "perception" and per["messages"] == [*expected, answer_message(after)]
    # a prediction with conditions shows exactly the sample's subset
    index = next(i for i, s in enumerate(samples) if s["object_lists"] and s["failed_actions"])
    sample, pre = samples[index], prediction[index]
    game = conditions[sample["game"]]
    shown = Conditions(
        object_lists={r: game.object_lists[r] for r in sample["object_lists"]},
        failed_actions=[game.failed_actions[i] for i in sample["failed_actions"]],
    )
    before = SymbolicState.from_dict(sample["state_before"])
    closed = closed_unvisited_target(before, sample["action"])
    assert pre["messages"][:2] == prediction_messages(before, sample["action"], shown, imagine_opened=closed)
    # going to a closed receptacle: the target lists what it holds, still closed
    index = next(i for i, s in enumerate(samples) if s.get("hidden_objects"))
    name = samples[index]["action"].removeprefix("go to ")
    target = json.loads(prediction[index]["messages"][-1]["content"])["world_state"][name]
    assert target == {"visited": True, "open": False, "objects": samples[index]["hidden_objects"]}
    assert f"Note: {name} is closed" in prediction[index]["messages"][1]["content"]


def test_bad_inputs_are_clear_errors_or_counted_skips(collected: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="implement collect"):
        prepare([tmp_path / "missing"], tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / TRAJECTORIES_FILE).write_text("")
    with pytest.raises(DataError, match="no usable trajectories"):
        prepare([empty], tmp_path / "out")

    broken = tmp_path / "broken"
    broken.mkdir()
    good = (collected / TRAJECTORIES_FILE).read_text().splitlines()
    bad_state = json.loads(good[0])
    bad_state["transitions"][0]["state_after"] = {"agent_location": 3}
    (broken / TRAJECTORIES_FILE).write_text(
        "\n".join([good[1], "{not json", "[1, 2]", json.dumps(bad_state)])
    )
    out = tmp_path / "prepared"
    out.mkdir()
    report = prepare([broken], out)
    assert (report.trajectories, len(report.skipped)) == (1, 3)

    samples = (out / SAMPLES_FILE).read_text().splitlines()
    bad_index = json.loads(samples[0])
    bad_index["failed_actions"] = [10_000]
    (out / SAMPLES_FILE).write_text("\n".join([*samples[1:], "", "oops", json.dumps(bad_index)]))
    report = curate([out / SAMPLES_FILE], tmp_path / "curated")
    assert report.perception == len(samples) - 1 and len(report.skipped) == 2
    with pytest.raises(DataError, match="not found"):
        curate([out / SAMPLES_FILE], tmp_path / "curated", data_dir=tmp_path / "nowhere")
    (out / SAMPLES_FILE).write_text("oops\n")
    with pytest.raises(DataError, match="no usable samples"):
        curate([out / SAMPLES_FILE], tmp_path / "curated2")
    assert not list((tmp_path / "curated2").iterdir())  # no half-written files left behind


def _config(data_root: Path, **evaluation: Any) -> Config:
    config = Config()
    config.environment.split = TINY_SPLIT
    config.environment.data_dir = str(data_root)
    config.environment.max_steps = 12
    for key, value in {"agent": "random", "trials": 2, "parallel": 2, **evaluation}.items():
        setattr(config.evaluation, key, value)
    return config


def test_conditions_extracted_from_a_run_start_a_later_runs_memory(data_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    asyncio.run(evaluate(_config(data_root), run))
    skipped: list[str] = []
    conditions = extract_conditions([run], skipped=skipped)
    assert not skipped
    episodes = read_jsonl(run / "episodes.jsonl")
    failed = {(e["game"], a) for e in episodes for a in e["failed_actions"]}
    assert {(g, f.action) for g, c in conditions.items() for f in c.failed_actions} == failed
    assert any(c.object_lists for c in conditions.values())
    write_conditions(tmp_path / "conditions", conditions)
    assert read_conditions(tmp_path / "conditions") == conditions

    later = tmp_path / "later"
    asyncio.run(evaluate(_config(data_root, trials=1, conditions=str(tmp_path / "conditions")), later))
    first_memories = {m["game_id"]: m for m in read_jsonl(later / "memory.jsonl")}
    for game, memory in first_memories.items():  # the random agent keeps the memory it was given
        assert Conditions.from_dict(memory["data"]["metaicl_conditions"]) == conditions[game]

    with pytest.raises(DataError, match="not an evaluation run"):
        extract_conditions([tmp_path / "conditions"])
    write_conditions(tmp_path / "other", {"train/elsewhere/trial_1": Conditions()})
    with pytest.raises(DataError, match="name none of this run's"):
        asyncio.run(evaluate(_config(data_root, conditions=str(tmp_path / "other")), tmp_path / "bad"))
