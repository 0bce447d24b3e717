"""The evaluation runner: games × trials over parallel environments, into a resumable run directory.

Trial t plays only the games not solved in trials < t (all of them with `replay_solved`,
to measure adaptation; SR@k still counts the first win); each game's `TaskMemory` passes
from trial to trial. Episodes are appended to `episodes.jsonl` as they finish, so a
killed run loses only the episodes in flight and `resume` plays exactly the missing ones.

Before anything is written, each model the agent uses answers one probe request
(`implement.llm.probe`): one that cannot be reached or used ends the run with one line and
no run directory. An episode that raises (a request failed for good, a bug) is recorded with
its error and traceback; its memory is not saved and its game plays no later trial in this
session. `resume` plays errored episodes again (`evaluation.retry_errors`); with it off they
stay, as losses, and their games go on from the memory saved before them.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from implement.agents import (
    AGENTS,
    PRIVILEGED_AGENTS,
    Agent,
    AgentBuilder,
    Decision,
    EpisodeOutcome,
    Oracle,
    TaskMemory,
    agent_builder,
)
from implement.config import Config
from implement.envs.base import Env, Observation
from implement.envs.games import Game, find_games, read_walkthrough, sample_games
from implement.errors import ConfigError, DataError, ImplementError, UnknownNameError
from implement.eval.metrics import summarize
from implement.eval.rundir import RunDir
from implement.llm.base import LLMError
from implement.llm.probe import models_made, probe_models
from implement.metaicl import read_conditions, store_conditions
from implement.state import SymbolicState
from implement.world_model.perception import initial_state, update_state

# Settings that may change when a run is resumed; every other one must match run.json.
# (The API server may move: the agent it serves is checked against the config anyway; so may the run
# directory itself.) The data-collection and training sections play no episode, they are not compared.
_RESUMABLE = {
    ("evaluation", "trials"),
    ("evaluation", "parallel"),
    ("evaluation", "api_url"),
    ("evaluation", "out"),
    ("evaluation", "retry_errors"),
}
_NOT_PLAYED = {"collect", "training"}


@dataclass
class Progress:
    """Callbacks for a progress display (the library itself never prints)."""

    on_trial: Callable[[int, int], None] = lambda trial, pending: None
    on_episode: Callable[[dict[str, Any]], None] = lambda record: None


def alfworld_env(config: Config) -> Env:
    """The default environment: ALFWorld on TextWorld, `environment.max_steps` steps an episode."""
    from implement.envs.alfworld import AlfworldEnv

    return AlfworldEnv(max_steps=config.environment.max_steps)


def select_games(config: Config) -> list[Game]:
    """The split's games, or a seeded sample of `evaluation.games` of them, sorted by id."""
    root = Path(config.environment.data_dir) if config.environment.data_dir else None
    games = find_games(config.environment.split, root)
    return sample_games(games, config.evaluation.games, config.evaluation.seed, setting="evaluation.games")


def _check_resume(stored: dict[str, Any], config: Config) -> None:
    """Every played setting as run.json has it; one it lacks (added since) counts as its default."""
    current, defaults = config.to_dict(), Config().to_dict()
    was_profile, profile = stored.get("profile", defaults.pop("profile")), current.pop("profile")
    changed = [f"profile: {was_profile!r} -> {profile!r}"] if was_profile != profile else []
    changed += [
        f"{section}.{name}: {was!r} -> {value!r}"
        for section, values in current.items()
        if section not in _NOT_PLAYED
        for name, value in values.items()
        if (section, name) not in _RESUMABLE
        and (was := stored.get(section, {}).get(name, defaults[section][name])) != value
    ]
    if changed:
        raise ConfigError("--resume with settings that differ from run.json: " + "; ".join(changed))


def plan_run(out: Path, config: Config, resume: bool) -> tuple[RunDir, list[Game]]:
    """The run directory and its games, checked and nothing written yet: a new run's sample, or
    the games of the run to resume (same settings, game files still in place)."""
    run = RunDir(out)
    if not run.exists:
        return run, select_games(config)
    if not resume:
        raise ImplementError(f"{out} already holds a run; pass --resume to continue it, or another --out")
    meta = run.meta()
    _check_resume(meta["config"], config)
    games = [Game.from_path(Path(g["path"]), g["split"]) for g in meta["games"]]
    missing = [str(g.path) for g in games if not g.path.is_file()]
    if missing:
        raise DataError(
            f"{len(missing)} game files of this run are gone (first: {missing[0]}); "
            "reinstall the data where run.json expects it before resuming"
        )
    return run, games


def open_run(run: RunDir, games: list[Game], config: Config) -> None:
    """Create a planned run's directory; or reopen a run to resume: its config updated, torn lines
    repaired, errored episodes dropped to be played again (with `evaluation.retry_errors`)."""
    if run.exists:
        run.update_meta(config=config.to_dict())
        run.repair()
        if config.evaluation.retry_errors:
            run.drop_errors()
        return
    walkthrough_steps = {g.id: len(read_walkthrough(g)) for g in games}
    run.create(
        {
            "config": config.to_dict(),
            "games": [
                {
                    "id": g.id,
                    "path": str(g.path),
                    "split": g.split,
                    "task_type": g.task_type,
                    "walkthrough_steps": walkthrough_steps[g.id],
                }
                for g in games
            ],
        }
    )


def _starting_memories(config: Config, games: list[Game]) -> dict[str, TaskMemory]:
    """Memories seeded from `evaluation.conditions` (MetaICL conditions of earlier runs), by game id."""
    if not config.evaluation.conditions:
        return {}
    found = read_conditions(Path(config.evaluation.conditions))
    memories = {}
    for game in games:
        if game.id in found:
            memories[game.id] = TaskMemory(game.id)
            store_conditions(memories[game.id].data, found[game.id])
    if not memories:
        raise DataError(
            f"the conditions in {config.evaluation.conditions} name none of this run's {len(games)} games "
            f"(they are keyed by game id, e.g. {games[0].id!r})"
        )
    return memories


def run_summary(run: RunDir, trials: int | None = None) -> dict[str, Any]:
    """The metrics of a finished or partial run, from its files, over `trials` (default: the run's)."""
    meta = run.meta()
    games = {g["id"]: g["task_type"] for g in meta["games"]}
    evaluation = meta["config"]["evaluation"]
    replay = bool(evaluation.get("replay_solved", False))
    return summarize(run.episodes(), games, trials or evaluation["trials"], replay_solved=replay)


def agent_config(config: Config) -> Config:
    """What agents are told of the run's settings: all but where the game files lie."""
    return replace(config, environment=replace(config.environment, data_dir=None))


def oracle_of(config: Config, games: list[Game]) -> Oracle | None:
    """The walkthroughs by game id, for a privileged agent only (`PRIVILEGED_AGENTS`)."""
    if config.evaluation.agent not in PRIVILEGED_AGENTS:
        return None
    by_id = {g.id: g for g in games}
    return lambda game_id: read_walkthrough(by_id[game_id])


async def evaluate(
    config: Config,
    out: Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    builder: AgentBuilder | None = None,
    make_env: Callable[[Config], Env] = alfworld_env,
) -> dict[str, Any]:
    """Play the run to its end (or continue it) and return its summary; `make_env` makes each worker's env."""
    if builder is None and config.evaluation.agent not in AGENTS:
        # Before open_run: an unknown agent must not leave a run directory behind.
        raise UnknownNameError("agent", config.evaluation.agent, list(AGENTS))
    run, games = plan_run(out, config, resume)
    if builder is None and config.evaluation.api_url:
        from implement.serve.client import remote_builder

        builder = remote_builder(config.evaluation.api_url)  # its agents' server answers /health first
    build = builder or agent_builder(config.evaluation.agent)
    with models_made() as models:
        new_agent = build(agent_config(config), oracle=oracle_of(config, games))  # fails fast on bad settings
    await probe_models(models)  # before open_run too: a model that cannot answer leaves nothing
    open_run(run, games, config)
    await _play_trials(config, run, games, new_agent, progress or Progress(), make_env)
    return run_summary(run)


async def _play_trials(
    config: Config,
    run: RunDir,
    games: list[Game],
    new_agent: Callable[[], Agent],
    progress: Progress,
    make_env: Callable[[Config], Env],
) -> None:
    """Every trial's pending episodes, over `evaluation.parallel` workers, into `run`."""
    walkthrough_steps = {g["id"]: g["walkthrough_steps"] for g in run.meta()["games"]}
    episodes = run.episodes()
    done = {(e["game"], e["trial"]): e["won"] for e in episodes}
    # A memory is saved just before its episode's line, and never for an errored episode: one
    # whose episode was not recorded (killed in between) is left out, and that episode is played
    # again from the memory before it.
    played = {(e["game"], e["trial"]) for e in episodes if not e.get("error")}
    memories = _starting_memories(config, games)
    memories.update({gid: TaskMemory(gid, m["trial"], m["data"]) for gid, m in run.memories(played).items()})
    blocked: set[str] = set()  # games with an episode errored in this session: no later trial now
    # One environment per worker, made on its first game in a thread: the others play meanwhile.
    envs: list[Env | None] = [None] * max(1, config.evaluation.parallel)

    for trial in range(1, config.evaluation.trials + 1):
        solved = {g for (g, t), won in done.items() if won and t < trial}
        if config.evaluation.replay_solved:
            solved = set()
        pending = [g for g in games if g.id not in (solved | blocked) and (g.id, trial) not in done]
        progress.on_trial(trial, len(pending))
        queue: asyncio.Queue[Game] = asyncio.Queue()
        for game in pending:
            queue.put_nowait(game)

        async def worker(slot: int, trial: int = trial, queue: asyncio.Queue[Game] = queue) -> None:
            while not queue.empty():
                game = queue.get_nowait()
                env = envs[slot]
                if env is None:
                    env = await asyncio.to_thread(make_env, config)
                    envs[slot] = env
                memory = memories.setdefault(game.id, TaskMemory(game.id))
                memory.trial = trial
                record = await play_episode(env, new_agent(), game, trial, memory, run)
                record["walkthrough_steps"] = walkthrough_steps.get(game.id)
                if record["error"] is None:
                    run.append_memory(memory.to_dict())
                else:
                    blocked.add(game.id)
                run.append_episode(record)
                done[(game.id, trial)] = record["won"]
                progress.on_episode(record)

        await asyncio.gather(*(worker(slot) for slot in range(len(envs))))


def _step_line(
    observation: Observation, state: SymbolicState, decision: Decision | None = None
) -> dict[str, Any]:
    line: dict[str, Any] = {"step": observation.step}
    if decision is not None:
        line["decision"] = decision.to_dict()
    return {**line, "observation": observation.to_dict(), "state": state.to_dict()}


async def play_episode(
    env: Env, agent: Agent, game: Game, trial: int, memory: TaskMemory, run: RunDir
) -> dict[str, Any]:
    """One episode; an exception is recorded in the episode (with its traceback), never raised."""
    started = time.perf_counter()
    actions: list[str] = []
    failed: list[str] = []
    usage: dict[str, float] = {}
    record: dict[str, Any] = {"game": game.id, "task_type": game.task_type, "trial": trial}
    won, steps, error, trace = False, 0, None, None
    with run.open_steps(trial, game.id) as log:
        try:
            task, observation = await asyncio.to_thread(env.reset, game)
            record["goal"] = task.goal
            agent.reset(task, memory)
            state = initial_state(observation.text)
            run.write_line(log, _step_line(observation, state))
            while not observation.done:
                decision = await agent.act(observation)
                observation = await asyncio.to_thread(env.step, decision.action)
                actions.append(observation.action or "")
                if not observation.succeeded:
                    failed.append(observation.action or "")
                for key, value in decision.usage.items():
                    usage[key] = usage.get(key, 0) + value
                state = update_state(state, observation.action or "", observation.text)
                run.write_line(log, _step_line(observation, state, decision))
            won, steps = observation.won, observation.step
            agent.finish(EpisodeOutcome(won, steps, tuple(actions), tuple(failed)))
        except Exception as exc:
            error, trace = f"{type(exc).__name__}: {exc}", traceback.format_exc()
            if isinstance(exc, LLMError):  # the request that failed for good and ended the episode
                usage["failed_requests"] = usage.get("failed_requests", 0) + 1
            steps = len(actions)
            run.write_line(log, {"error": error, "traceback": trace})
    record.update(
        won=won,
        steps=steps,
        actions=actions,
        failed_actions=failed,
        usage=usage,
        error=error,
        traceback=trace,
        seconds=round(time.perf_counter() - started, 3),
    )
    return record
