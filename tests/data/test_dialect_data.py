"""`prepare`/`curate` in the reference's dialect, and conditions files in its format, on the built games."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import TINY_SPLIT
from implement.config import CollectConfig, Config
from implement.data.collect import collect, open_collection
from implement.data.curate import PERCEPTION_FILE, PREDICTION_FILE, curate
from implement.data.prepare import CONDITIONS_DIR, SAMPLES_FILE, prepare
from implement.envs.games import find_games
from implement.errors import DataError
from implement.eval.runner import evaluate
from implement.jsonl import read_jsonl
from implement.metaicl import Conditions, FailedAction, read_conditions
from implement.metaicl.store import FAILED_ACTIONS_FILE, OBJECT_LISTS_FILE
from implement.prompts.world_model import answer_message, perception_messages
from implement.state import SymbolicState
from implement.world_model.base import closed_unvisited_target
from implement.world_model.dialect import conditions_to_reference, from_reference, to_reference

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def collected(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collected")
    config = Config(collect=CollectConfig(split=TINY_SPLIT, batch_size=3, max_steps=25))
    config.environment.data_dir = str(data_root)
    collect(config, out, open_collection(config, out, resume=False))
    return out


@pytest.fixture(scope="module")
def both(collected: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same collection prepared in our dialect and in the reference's, with one seed."""
    ours, reference = tmp_path_factory.mktemp("ours"), tmp_path_factory.mktemp("reference")
    prepare([collected], ours, seed=3)
    prepare([collected], reference, seed=3, dialect="reference")
    return ours, reference


def test_prepare_writes_the_reference_fields_states_and_conditions(both: tuple[Path, Path]) -> None:
    ours, reference = both
    conditions = read_conditions(ours / CONDITIONS_DIR)
    failed_file = json.loads((reference / CONDITIONS_DIR / FAILED_ACTIONS_FILE).read_text())
    assert any(failed_file.values())
    for game, entries in failed_file.items():  # the reference's lists, in its conventions
        assert entries == conditions_to_reference(conditions[game])[1]
        assert all(isinstance(e, list) and len(e) == 4 for e in entries)
    assert read_conditions(reference / CONDITIONS_DIR).keys() == conditions.keys()
    ours_samples, ref_samples = read_jsonl(ours / SAMPLES_FILE), read_jsonl(reference / SAMPLES_FILE)
    assert len(ours_samples) == len(ref_samples) > 0
    for mine, theirs in zip(ours_samples, ref_samples, strict=True):
        assert "state_before" not in theirs and "object_lists" not in theirs
        assert theirs["old_state"] == to_reference(SymbolicState.from_dict(mine["state_before"]))
        assert theirs["new_state"] == to_reference(SymbolicState.from_dict(mine["state_after"]))
        assert theirs["action_success"] == mine["success"] and theirs["action"] == mine["action"]
        assert theirs["other_visible_receptacles"] == mine["visible_receptacles"]
        game = conditions[mine["game"]]
        shown = Conditions(
            object_lists={r: game.object_lists[r] for r in mine["object_lists"]},
            failed_actions=[game.failed_actions[i] for i in mine["failed_actions"]],
        )
        assert (theirs["condition_1"], theirs["condition_2"]) == conditions_to_reference(shown)
    assert any(s["old_state"]["inventory"] is None for s in ref_samples)
    assert ref_samples[0]["old_state"]["agent_location"] == "middle of the room"
    assert any(s["condition_2"] for s in ref_samples) and any(s["condition_1"] for s in ref_samples)


def test_curate_writes_the_reference_conversations(both: tuple[Path, Path], tmp_path: Path) -> None:
    _, reference = both
    report = curate([reference / SAMPLES_FILE], tmp_path, dialect="reference")
    samples = read_jsonl(reference / SAMPLES_FILE)
    perception, prediction = read_jsonl(tmp_path / PERCEPTION_FILE), read_jsonl(tmp_path / PREDICTION_FILE)
    assert report.perception == report.prediction == len(samples) and not report.skipped
    for sample, per, pre in zip(samples, perception, prediction, strict=True):
        before, after = from_reference(sample["old_state"]), from_reference(sample["new_state"])
        expected = perception_messages(
            before, sample["action"], sample["observation"], succeeded=sample["action_success"],
            visible=sample["other_visible_receptacles"], dialect="reference",
        )  # fmt: skip
        assert per["messages"] == [*expected, answer_message(after, dialect="reference")]
        assert ast.literal_eval(per["messages"][-1]["content"]) == sample["new_state"]
        text = pre["messages"][1]["content"]
        assert (
            text.startswith("[PRE]\n")
            and ast.literal_eval(pre["messages"][-1]["content"]) == sample["new_state"]
        )
        lines = text.splitlines()
        if closed_unvisited_target(before, sample["action"]) is None:
            assert ast.literal_eval(lines[-4]) == sample["condition_1"]
        else:  # asked as the world model asks it: no object lists, opening is its own sample
            assert ast.literal_eval(lines[-4]) == [] and "closed and was never opened" not in text
        assert ast.literal_eval(lines[-1]) == sample["condition_2"]
    # our samples curate to the reference's conversations too, and the reference's to ours
    again = curate([both[0] / SAMPLES_FILE], tmp_path / "from-ours", dialect="reference")
    assert again.prediction == len(samples)
    ours = curate([reference / SAMPLES_FILE], tmp_path / "ours")
    first = read_jsonl(tmp_path / "ours" / PERCEPTION_FILE)[0]["messages"][-1]["content"]
    assert ours.perception == len(samples) and SymbolicState.from_json(first)


def reference_conditions_dir(directory: Path, games: list[str]) -> Path:
    """A conditions directory as the reference's scripts write one (lists, None hands), per game."""
    directory.mkdir()
    failed = [["open drawer 1", "middle of the room", None, {"visited": False, "open": False, "objects": []}],
              ["take apple 1 from countertop 1", "countertop 1", "mug 1", {}]]  # fmt: skip
    (directory / OBJECT_LISTS_FILE).write_text(
        json.dumps({g: {"countertop 1": ["apple", "mug"]} for g in games})
    )
    (directory / FAILED_ACTIONS_FILE).write_text(json.dumps({g: failed for g in games}))
    return directory


def test_a_reference_conditions_file_loads_and_starts_a_runs_memory(data_root: Path, tmp_path: Path) -> None:
    config = Config()
    config.environment.split, config.environment.data_dir = TINY_SPLIT, str(data_root)
    config.environment.max_steps = 4
    games = [g.id for g in find_games(TINY_SPLIT, data_root)]
    directory = reference_conditions_dir(tmp_path / "conditions", games)
    expected = Conditions(
        object_lists={"countertop 1": ["apple", "mug"]},
        failed_actions=[
            FailedAction(
                "open drawer 1", "middle of room", "nothing", {"visited": False, "open": False, "objects": []}
            ),
            FailedAction("take apple 1 from countertop 1", "countertop 1", "mug 1", None),
        ],
    )
    assert read_conditions(directory) == dict.fromkeys(games, expected)
    for key, value in {"agent": "random", "trials": 1, "games": 1, "conditions": str(directory)}.items():
        setattr(config.evaluation, key, value)
    asyncio.run(evaluate(config, tmp_path / "run"))
    (memory,) = read_jsonl(tmp_path / "run" / "memory.jsonl")
    assert memory["game_id"] in games
    assert Conditions.from_dict(memory["data"]["metaicl_conditions"]) == expected


def test_malformed_reference_conditions_are_a_clear_error(tmp_path: Path) -> None:
    directory = reference_conditions_dir(tmp_path / "conditions", ["g"])
    (directory / FAILED_ACTIONS_FILE).write_text(json.dumps({"g": [["open drawer 1", "drawer 1"]]}))
    with pytest.raises(DataError, match=r"malformed conditions of 'g'.*\[action, location, inventory"):
        read_conditions(directory)


def test_prepare_and_curate_through_the_cli_flag_and_config(
    cli: Cli, collected: Path, tmp_path: Path
) -> None:
    prepared, curated = tmp_path / "prepared", tmp_path / "curated"
    result = cli(
        "prepare", "--data-dirs", str(collected), "--out", str(prepared), "--dialect", "reference", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dialect"] == "reference"
    assert "old_state" in read_jsonl(prepared / SAMPLES_FILE)[0]
    config = tmp_path / "reference.toml"
    config.write_text('[world_model]\ndialect = "reference"\n')
    samples = str(prepared / SAMPLES_FILE)
    result = cli("curate", "--input", samples, "--out", str(curated), "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dialect"] == "reference"
    answer = read_jsonl(curated / PREDICTION_FILE)[0]["messages"][-1]["content"]
    assert from_reference(answer) and "None" in answer
    bad = cli("curate", "--input", samples, "--out", str(curated), "--dialect", "paper")
    assert bad.returncode != 0 and "dialect" in bad.stderr
