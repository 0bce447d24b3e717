"""The evaluation runner on the built games: trial semantics, memory, errors, resume and kills."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from implement.agents import Agent, Decision, EpisodeOutcome, TaskMemory
from implement.config import Config
from implement.envs.base import Observation, Task
from implement.envs.games import Game, read_walkthrough
from implement.errors import ConfigError, DataError, ImplementError, UnknownNameError
from implement.eval.rundir import RunDir
from implement.eval.runner import Progress, evaluate, run_summary, select_games
from implement.jsonl import read_jsonl

SECRET = "sk-runner-test-secret"


@pytest.fixture(autouse=True)
def translation_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One translation cache for the module's runs (the runner's envs read `$IMPLEMENT_CACHE_DIR`)."""
    path = tmp_path_factory.getbasetemp() / "runner-translations"
    monkeypatch.setenv("IMPLEMENT_CACHE_DIR", str(path))
    return path


def make_config(
    data_root: Path,
    *,
    agent: str = "expert",
    trials: int = 1,
    max_steps: int = 30,
    parallel: int = 2,
    games: int | None = None,
    seed: int = 0,
) -> Config:
    config = Config()
    config.environment.data_dir = str(data_root)
    config.environment.split = "tiny"
    config.environment.max_steps = max_steps
    config.evaluation.agent = agent
    config.evaluation.trials = trials
    config.evaluation.parallel = parallel
    config.evaluation.games = games
    config.evaluation.seed = seed
    return config


def run(config: Config, out: Path, **kwargs: Any) -> dict[str, Any]:
    return asyncio.run(evaluate(config, out, **kwargs))


def factory_of(make: Callable[[], Agent]) -> Callable[..., Callable[[], Agent]]:
    return lambda config, **_: make


def run_games(out: Path) -> list[str]:
    return [g["id"] for g in json.loads((out / "run.json").read_text())["games"]]


def required_pairs(episodes: list[dict[str, Any]], game_ids: list[str], trials: int) -> set[tuple[str, int]]:
    """What the trial semantics require: every game in trial 1; in trial t the games not solved before t."""
    first_win: dict[str, int] = {}
    for e in episodes:
        if e["won"]:
            first_win[e["game"]] = min(first_win.get(e["game"], e["trial"]), e["trial"])
    return {(g, t) for g in game_ids for t in range(1, trials + 1) if first_win.get(g, trials + 1) >= t}


def assert_trial_semantics(episodes: list[dict[str, Any]], game_ids: list[str], trials: int) -> None:
    pairs = Counter((e["game"], e["trial"]) for e in episodes)
    assert [p for p, n in pairs.items() if n > 1] == [], "an episode was recorded twice"
    assert set(pairs) == required_pairs(episodes, game_ids, trials)


def steps_log(out: Path, trial: int, game_id: str) -> list[dict[str, Any]]:
    path = out / "steps" / f"trial_{trial:02d}" / (game_id.replace("/", "__") + ".jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


class LookAgent:
    """Says `look` every step (never wins); counts its episodes."""

    name = "look"
    resets: ClassVar[list[str]] = []

    def reset(self, task: Task, memory: TaskMemory) -> None:
        LookAgent.resets.append(task.game_id)

    async def act(self, observation: Observation) -> Decision:
        return Decision("look")

    def finish(self, outcome: EpisodeOutcome) -> None:
        pass


# ---------------------------------------------------------------------------------------------- expert


def test_expert_solves_every_game_in_walkthrough_steps(
    data_root: Path, tiny_games: list[Game], tmp_path: Path
) -> None:
    config = make_config(data_root, agent="expert")
    config.llm.api_key = SECRET
    out = tmp_path / "run"
    summary = run(config, out)

    walkthroughs = {g.id: read_walkthrough(g) for g in tiny_games}
    assert summary["sr_at"] == {"1": 1.0}
    assert summary["complete"] is True
    assert (summary["games"], summary["episodes"], summary["errors"]) == (6, 6, 0)
    assert summary["steps_ratio_to_walkthrough"] == 1.0
    assert summary["failed_action_rate"] == 0.0
    assert summary["by_trial"] == [
        {"trial": 1, "attempted": 6, "solved": 6, "steps_ratio_to_walkthrough": 1.0}
    ]
    assert {t: row["sr_at"] for t, row in summary["by_task_type"].items()} == {
        g.task_type: {"1": 1.0} for g in tiny_games
    }

    episodes = read_jsonl(out / "episodes.jsonl")
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 6
    assert sorted(e["game"] for e in episodes) == sorted(walkthroughs)
    for e in episodes:
        walkthrough = walkthroughs[e["game"]]
        assert e["won"] is True and e["error"] is None and e["trial"] == 1
        assert e["steps"] == len(walkthrough) == e["walkthrough_steps"]
        assert e["actions"] == walkthrough
        assert e["failed_actions"] == []

        log = steps_log(out, 1, e["game"])
        assert [line["step"] for line in log] == list(range(e["steps"] + 1))
        assert "Your task is to" in log[0]["observation"]["text"]
        assert [line["decision"]["action"] for line in log[1:]] == walkthrough
        assert log[-1]["observation"]["won"] is True
        # every step carries the parsed symbolic state in the paper's format
        assert log[0]["state"]["agent_location"] == "middle of room"
        last_go_to = [a for a in walkthrough if a.startswith("go to ")][-1]
        assert log[-1]["state"]["agent_location"] == last_go_to[len("go to ") :]
        assert all(set(line["state"]) == {"agent_location", "inventory", "world_state"} for line in log)

    text = (out / "run.json").read_text()
    assert SECRET not in text
    meta = json.loads(text)
    assert meta["config"] == config.to_dict()
    assert "api_key" not in meta["config"]["llm"]
    assert {"python", "implement", "textworld", "alfworld"} <= set(meta["versions"])
    assert meta["started_at"]
    assert {g["id"]: g["walkthrough_steps"] for g in meta["games"]} == {
        k: len(w) for k, w in walkthroughs.items()
    }
    assert {g["id"]: g["task_type"] for g in meta["games"]} == {g.id: g.task_type for g in tiny_games}
    assert run_summary(RunDir(out)) == summary


def test_unknown_agent_fails_before_creating_a_run(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="expected one of: expert, implement, random"):
        run(make_config(data_root, agent="nope"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------- trials


class ScriptedAgent:
    """Plays a game's walkthrough from trial `wins_at[game]` on, `look` before: known wins per trial."""

    name = "scripted"

    def __init__(self, walkthroughs: dict[str, list[str]], wins_at: dict[str, int]) -> None:
        self._walkthroughs, self._wins_at = walkthroughs, wins_at
        self._plan: list[str] = []

    def reset(self, task: Task, memory: TaskMemory) -> None:
        winning = memory.trial >= self._wins_at.get(task.game_id, 99)
        self._plan = self._walkthroughs[task.game_id] if winning else []

    async def act(self, observation: Observation) -> Decision:
        step = observation.step
        return Decision(self._plan[step] if step < len(self._plan) else "look")

    def finish(self, outcome: EpisodeOutcome) -> None:
        pass


def test_solved_games_are_not_played_again(data_root: Path, tiny_games: list[Game], tmp_path: Path) -> None:
    walkthroughs = {g.id: read_walkthrough(g) for g in tiny_games}
    config = make_config(data_root, trials=3, max_steps=max(map(len, walkthroughs.values())), games=4)
    out = tmp_path / "run"

    games = select_games(config)  # the run's games, sorted

    def scripted(config: Config, **_: Any) -> Callable[[], Agent]:
        # The first is solved in trial 1, the second in 2, the third in 3.
        return lambda: ScriptedAgent(walkthroughs, {games[0].id: 1, games[1].id: 2, games[2].id: 3})

    trials_started: list[tuple[int, int]] = []
    summary = run(
        config,
        out,
        builder=scripted,
        progress=Progress(on_trial=lambda trial, pending: trials_started.append((trial, pending))),
    )
    ids = run_games(out)
    assert len(ids) == 4 and ids == sorted(ids)
    episodes = read_jsonl(out / "episodes.jsonl")
    assert sorted((e["game"], e["trial"]) for e in episodes) == sorted(
        [(ids[0], 1), (ids[1], 1), (ids[1], 2), (ids[2], 1), (ids[2], 2), (ids[2], 3)]
        + [(ids[3], t) for t in (1, 2, 3)]
    )
    assert {(e["game"], e["trial"]) for e in episodes if e["won"]} == {(ids[0], 1), (ids[1], 2), (ids[2], 3)}
    assert_trial_semantics(episodes, ids, 3)
    assert summary["sr_at"] == {"1": 0.25, "2": 0.5, "3": 0.75}
    by_trial = [(r["trial"], r["attempted"], r["solved"]) for r in summary["by_trial"]]
    assert by_trial == [(1, 4, 1), (2, 3, 1), (3, 2, 1)]
    assert trials_started == [(1, 4), (2, 3), (3, 2)]
    assert summary["complete"] is True

    # Resuming with more trials plays only the next trial of the game still unsolved.
    more = copy.deepcopy(config)
    more.evaluation.trials = 4
    summary = run(more, out, resume=True, builder=scripted)
    episodes = read_jsonl(out / "episodes.jsonl")
    assert [(e["game"], e["trial"]) for e in episodes[9:]] == [(ids[3], 4)]
    assert summary["sr_at"]["4"] == 0.75 and summary["trials"] == 4


def test_random_agent_is_seeded_and_keeps_trial_semantics(data_root: Path, tmp_path: Path) -> None:
    config = make_config(data_root, agent="random", trials=3, max_steps=4, games=3, seed=7)
    summaries = [run(config, tmp_path / name) for name in ("a", "b")]
    a, b = (read_jsonl(tmp_path / name / "episodes.jsonl") for name in ("a", "b"))

    def key(e: dict[str, Any]) -> tuple[int, str]:
        return e["trial"], e["game"]

    assert [(key(e), e["actions"], e["won"]) for e in sorted(a, key=key)] == [
        (key(e), e["actions"], e["won"]) for e in sorted(b, key=key)
    ]
    assert summaries[0]["sr_at"] == summaries[1]["sr_at"]

    ids = run_games(tmp_path / "a")
    assert len(ids) == 3 and ids == sorted(ids)
    assert_trial_semantics(a, ids, 3)
    summary = summaries[0]
    rates = [summary["sr_at"][str(k)] for k in (1, 2, 3)]
    assert rates == sorted(rates)
    attempted = Counter(e["trial"] for e in a)
    assert {r["trial"]: r["attempted"] for r in summary["by_trial"]} == dict(attempted)
    assert summary["episodes"] == len(a)
    for e in a:
        assert e["steps"] == len(e["actions"]) <= 4
        assert e["won"] or e["steps"] == 4
    # Each trial draws its own choices: a game played twice is not replayed move for move.
    by_game: dict[str, list[list[str]]] = {}
    for e in sorted(a, key=key):
        by_game.setdefault(e["game"], []).append(e["actions"])
    assert any(len(runs) > 1 and runs[0] != runs[1] for runs in by_game.values())


# ---------------------------------------------------------------------------------------------- memory


class MemorySpy:
    """Writes into its task memory at reset and finish, and records what the memory held at reset."""

    name = "memory-spy"

    def __init__(self, seen: list[tuple[str, int, dict[str, Any]]]) -> None:
        self._seen = seen
        self._memory: TaskMemory | None = None

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._seen.append((task.game_id, memory.trial, copy.deepcopy(memory.data)))
        assert memory.game_id == task.game_id
        memory.data.setdefault("notes", []).append(f"{task.game_id}@{memory.trial}")
        self._memory = memory

    async def act(self, observation: Observation) -> Decision:
        return Decision("look")

    def finish(self, outcome: EpisodeOutcome) -> None:
        assert self._memory is not None
        self._memory.data.setdefault("finished", []).append(outcome.steps)


def test_task_memory_passes_between_trials_of_one_game_only(data_root: Path, tmp_path: Path) -> None:
    config = make_config(data_root, trials=2, max_steps=1, games=2)
    out = tmp_path / "run"
    seen: list[tuple[str, int, dict[str, Any]]] = []
    run(config, out, builder=factory_of(lambda: MemorySpy(seen)))
    a, b = run_games(out)

    by_key = {(game, trial): data for game, trial, data in seen}
    assert len(seen) == len(by_key) == 4
    assert by_key[(a, 1)] == {} and by_key[(b, 1)] == {}
    assert by_key[(a, 2)] == {"notes": [f"{a}@1"], "finished": [1]}
    assert by_key[(b, 2)] == {"notes": [f"{b}@1"], "finished": [1]}

    # After a resume (here with one more trial), the memory comes back from memory.jsonl.
    more = copy.deepcopy(config)
    more.evaluation.trials = 3
    seen.clear()
    run(more, out, resume=True, builder=factory_of(lambda: MemorySpy(seen)))
    assert sorted((game, trial) for game, trial, _ in seen) == [(a, 3), (b, 3)]
    for game, _, data in seen:
        assert data == {"notes": [f"{game}@1", f"{game}@2"], "finished": [1, 1]}
    saved = {m["game_id"]: m for m in read_jsonl(out / "memory.jsonl")}
    assert saved[a]["data"]["notes"] == [f"{a}@1", f"{a}@2", f"{a}@3"]
    assert saved[a]["trial"] == 3


def test_memory_of_an_episode_killed_before_its_record_is_not_used(data_root: Path, tmp_path: Path) -> None:
    config = make_config(data_root, trials=1, max_steps=1, games=1)
    out = tmp_path / "run"
    seen: list[tuple[str, int, dict[str, Any]]] = []
    run(config, out, builder=factory_of(lambda: MemorySpy(seen)))
    (game,) = run_games(out)
    # A kill after trial 2 saved its memory but before its episode line was written.
    with (out / "memory.jsonl").open("a") as f:
        f.write(
            json.dumps({"game_id": game, "trial": 2, "data": {"notes": ["from the lost episode"]}}) + "\n"
        )

    more = copy.deepcopy(config)
    more.evaluation.trials = 2
    seen.clear()
    run(more, out, resume=True, builder=factory_of(lambda: MemorySpy(seen)))
    assert seen == [(game, 2, {"notes": [f"{game}@1"], "finished": [1]})]


# ---------------------------------------------------------------------------------------------- errors


class BrokenOn:
    """`look`s, but raises in `act` at step 1 of one game."""

    name = "broken"

    def __init__(self, broken: str) -> None:
        self._broken, self._game = broken, ""

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._game = task.game_id

    async def act(self, observation: Observation) -> Decision:
        if self._game == self._broken and observation.step == 1:
            raise RuntimeError("agent broke on purpose")
        return Decision("look")

    def finish(self, outcome: EpisodeOutcome) -> None:
        pass


def test_an_agent_error_is_recorded_and_the_run_goes_on(
    data_root: Path, tiny_games: list[Game], tmp_path: Path
) -> None:
    broken = tiny_games[2].id
    out = tmp_path / "run"
    summary = run(make_config(data_root, max_steps=2), out, builder=factory_of(lambda: BrokenOn(broken)))

    episodes = {e["game"]: e for e in read_jsonl(out / "episodes.jsonl")}
    assert set(episodes) == {g.id for g in tiny_games}
    failed = episodes.pop(broken)
    assert failed["won"] is False
    assert failed["error"] == "RuntimeError: agent broke on purpose"
    assert "Traceback" in failed["traceback"] and "in act" in failed["traceback"]
    assert failed["steps"] == 1 and failed["actions"] == ["look"]
    assert steps_log(out, 1, broken)[-1]["error"] == failed["error"]
    for e in episodes.values():
        assert e["error"] is None and e["traceback"] is None and e["steps"] == 2
    assert summary["errors"] == 1
    assert summary["episodes"] == 6 and summary["complete"] is True


# ---------------------------------------------------------------------------------------------- resume


@pytest.fixture
def small_run(data_root: Path, tmp_path: Path) -> tuple[Config, Path]:
    """A finished run: 2 games, 1 trial, 2 steps of `look`."""
    config = make_config(data_root, trials=1, max_steps=2, games=2)
    out = tmp_path / "run"
    run(config, out, builder=factory_of(LookAgent))
    return config, out


def test_resume_of_a_finished_run_plays_nothing(small_run: tuple[Config, Path]) -> None:
    config, out = small_run
    before = (out / "episodes.jsonl").read_bytes()
    LookAgent.resets.clear()
    other = copy.deepcopy(config)
    other.evaluation.parallel = 1  # may change on resume
    summary = run(other, out, resume=True, builder=factory_of(LookAgent))
    assert LookAgent.resets == []
    assert (out / "episodes.jsonl").read_bytes() == before
    assert summary["episodes"] == 2 and summary["complete"] is True


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [("environment", "max_steps", 3), ("evaluation", "seed", 1), ("evaluation", "agent", "random")],
)
def test_resume_with_changed_settings_is_refused(
    small_run: tuple[Config, Path], section: str, name: str, value: object
) -> None:
    config, out = small_run
    changed = copy.deepcopy(config)
    setattr(getattr(changed, section), name, value)
    with pytest.raises(ConfigError, match=rf"{section}\.{name}: .* -> {value!r}"):
        run(changed, out, resume=True, builder=factory_of(LookAgent))


def test_existing_run_without_resume_is_refused(small_run: tuple[Config, Path]) -> None:
    config, out = small_run
    before = (out / "episodes.jsonl").read_bytes()
    with pytest.raises(ImplementError, match="--resume"):
        run(config, out, builder=factory_of(LookAgent))
    assert (out / "episodes.jsonl").read_bytes() == before


def test_resume_repairs_torn_last_lines(small_run: tuple[Config, Path]) -> None:
    config, out = small_run
    episodes_file, memory_file = out / "episodes.jsonl", out / "memory.jsonl"
    first, last = episodes_file.read_text().splitlines()
    episodes_file.write_text(first + "\n" + last[: len(last) // 2])  # killed while writing the last line
    memory_first = memory_file.read_text().splitlines()[0]
    memory_file.write_text(memory_first + "\n" + memory_first[:10])

    LookAgent.resets.clear()
    summary = run(config, out, resume=True, builder=factory_of(LookAgent))
    assert LookAgent.resets == [json.loads(last)["game"]]
    lines = episodes_file.read_text().splitlines()
    assert episodes_file.read_text().endswith("\n")
    records = [json.loads(line) for line in lines]  # every line is whole JSON again
    assert lines[0] == first
    assert sorted((r["game"], r["trial"]) for r in records) == sorted([(r["game"], 1) for r in records])
    assert len(records) == 2 and len({r["game"] for r in records}) == 2
    assert [json.loads(line) for line in memory_file.read_text().splitlines()]
    assert summary["episodes"] == 2 and summary["complete"] is True


# ---------------------------------------------------------------------------------------------- kill


@pytest.mark.slow
def test_killed_run_resumes_to_exactly_the_missing_episodes(data_root: Path, tmp_path: Path) -> None:
    """SIGKILL mid-run, then `--resume`: every (game, trial) the semantics require, each exactly once."""
    out = tmp_path / "run"
    trials = 3
    command = [
        sys.executable, "-m", "implement.cli", "evaluate", "--agent", "random", "--split", "tiny",
        "--trials", str(trials), "--max-steps", "8", "--parallel", "2", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "ALFWORLD_DATA": str(data_root), "IMPLEMENT_CACHE_DIR": str(tmp_path / "cache")}
    episodes_file = out / "episodes.jsonl"

    def in_flight() -> list[tuple[str, int]]:
        """Episodes with a step log of at least two lines but no line in episodes.jsonl yet."""
        finished = {(e["game"], e["trial"]) for e in read_jsonl(episodes_file)}
        found = []
        for path in (out / "steps").glob("trial_*/*.jsonl"):
            episode = (path.stem.replace("__", "/"), int(path.parent.name.removeprefix("trial_")))
            if episode not in finished and path.read_bytes().count(b"\n") >= 2:
                found.append(episode)
        return found

    # Kill once 3 episodes are recorded and another one is half-way through its steps.
    interrupted: list[tuple[str, int]] = []
    lines = 0
    with (tmp_path / "first.log").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        try:
            while process.poll() is None and time.monotonic() < deadline:
                lines = episodes_file.read_bytes().count(b"\n") if episodes_file.exists() else 0
                if lines >= 3 and (interrupted := in_flight()):
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
        finally:
            if process.poll() is None and not interrupted:
                process.kill()
            process.wait(timeout=30)
    assert interrupted and process.returncode == -signal.SIGKILL, (
        f"the run was not killed mid-way (exit {process.returncode}, {lines} episodes): it finished, failed "
        f"or hung; make it longer (--trials/--max-steps)\n{(tmp_path / 'first.log').read_text()}"
    )
    before_kill = [line for line in episodes_file.read_text().splitlines() if line.strip()]
    games = run_games(out)
    assert 3 <= len(before_kill) < len(games) * trials

    resumed = subprocess.run(
        [*command, "--resume", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)

    final = episodes_file.read_text().splitlines()
    episodes = [json.loads(line) for line in final]  # no torn line is left
    complete_before = [line for line in before_kill if _is_json(line)]
    assert final[: len(complete_before)] == complete_before  # finished episodes were kept, not replayed
    assert_trial_semantics(episodes, games, trials)
    assert summary["episodes"] == len(episodes)
    assert summary["complete"] is True
    assert summary["games"] == len(games) == 6
    recorded = {(e["game"], e["trial"]) for e in episodes}
    assert set(interrupted) <= recorded  # the episodes in flight were played again...
    for e in episodes:  # ...and their step logs written afresh
        assert len(steps_log(out, e["trial"], e["game"])) == e["steps"] + 1


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def test_resume_refuses_when_game_files_are_gone(data_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    config = make_config(root, trials=2, max_steps=2, games=2)
    out = tmp_path / "run"
    run(config, out, builder=factory_of(LookAgent))
    first = json.loads((out / "run.json").read_text())["games"][0]["path"]
    Path(first).unlink()
    more = copy.deepcopy(config)
    more.evaluation.trials = 3
    with pytest.raises(DataError, match="game files of this run are gone"):
        run(more, out, resume=True, builder=factory_of(LookAgent))


class MeteredAgent(LookAgent):
    """Says `look`, reporting one model call with tokens and a cache hit per step."""

    async def act(self, observation: Observation) -> Decision:
        usage = {"requests": 1, "prompt_tokens": 10, "completion_tokens": 2, "cache_hits": 1, "cost": 0.5}
        return Decision("look", usage=usage)


def test_llm_usage_is_summed_into_the_summary(data_root: Path, tmp_path: Path) -> None:
    summary = run(
        make_config(data_root, trials=1, max_steps=3, games=2),
        tmp_path / "run",
        builder=factory_of(MeteredAgent),
    )
    usage = summary["usage"]
    assert (usage["requests"], usage["prompt_tokens"], usage["cache_hits"], usage["cost"]) == (6, 60, 6, 3.0)
    assert usage["prompt_tokens_per_step"] == 10 and usage["requests_per_step"] == 1
