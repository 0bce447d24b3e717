"""`implement collect`: transitions for world-model training, played on the real engine.

The behaviour policy (the paper's mix, `[collect]` of the config) picks each step's command:
- the first step: a random admissible command;
- then, with probability `expert` (0.2), the next step of the game's walkthrough (privileged:
  fine for data collection, never for an agent under evaluation); with `admissible` (0.4) a
  random admissible command; otherwise (0.4) a random command from everything that was
  admissible so far in the episode, often inadmissible now, which teaches failures.

Each game is one trajectory, a line of `trajectories.jsonl` written when it ends: the
intro, the parsed initial state, and per step the observation text, the command, whether
it succeeded, the parsed states before and after, and the other receptacles in view.
Going to a closed receptacle never seen inside also records what it truly holds
(`hidden_objects`, from the engine's facts), so prediction targets can list what opening
it would show. `--resume` skips the games already written; a kill loses the ones in flight.
"""

from __future__ import annotations

import json
import multiprocessing
import random
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from implement.config import CollectConfig, Config
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game, find_games, read_walkthrough, sample_games
from implement.errors import ConfigError, ImplementError
from implement.jsonl import append_jsonl, read_jsonl, repair_jsonl, write_json_atomic
from implement.state import SymbolicState
from implement.world_model.base import closed_unvisited_target, visible_receptacles
from implement.world_model.perception import initial_state, update_state

TRAJECTORIES_FILE, COLLECT_FILE = "trajectories.jsonl", "collect.json"


def select_tasks(config: Config) -> list[Game]:
    """`collect.num_tasks` games drawn from the split (seeded, so every task type shows up), sorted by id."""
    settings, data_dir = config.collect, config.environment.data_dir
    games = find_games(settings.split, Path(data_dir) if data_dir else None)
    return sample_games(games, settings.num_tasks, settings.seed, setting="collect.num_tasks")


def _hidden_objects(env: AlfworldEnv, state: SymbolicState, action: str) -> list[str] | None:
    """What a closed receptacle never seen inside holds, when `action` goes to it."""
    target = closed_unvisited_target(state, action)
    return None if target is None else sorted(env.true_contents().get(target, []))


def play_trajectory(env: AlfworldEnv, game: Game, settings: CollectConfig) -> dict[str, Any]:
    """One episode of the behaviour policy (`settings`' shares and seed) on `game`, as a trajectory record."""
    rng = random.Random(f"{settings.seed}:{game.id}")
    walkthrough = read_walkthrough(game)
    task, obs = env.reset(game)
    state = initial_state(obs.text)
    record: dict[str, Any] = {
        "game": game.id,
        "path": str(game.path),
        "split": game.split,
        "task_type": game.task_type,
        "goal": task.goal,
        "intro": obs.text,
        "initial_state": state.to_dict(),
    }
    seen_commands = dict.fromkeys(obs.admissible_commands)
    transitions: list[dict[str, Any]] = []
    expert_step = 0
    while not obs.done:
        draw = rng.random()
        if transitions and draw < settings.expert and expert_step < len(walkthrough):
            source, command = "expert", walkthrough[expert_step]
            expert_step += 1
        elif not transitions or draw < settings.expert + settings.admissible:
            source, command = "admissible", rng.choice(obs.admissible_commands)
        else:
            source, command = "seen", rng.choice(tuple(seen_commands))
        hidden = _hidden_objects(env, state, command)
        obs = env.step(command)
        action = obs.action or command
        after = update_state(state, action, obs.text)
        transition = {
            "step": obs.step,
            "source": source,
            "action": action,
            "observation": obs.text,
            "success": obs.succeeded,
            "state_before": state.to_dict(),
            "state_after": after.to_dict(),
            "visible_receptacles": visible_receptacles(state, action, obs.text),
        }
        if hidden is not None:
            transition["hidden_objects"] = hidden
        transitions.append(transition)
        seen_commands.update(dict.fromkeys(obs.admissible_commands))
        state = after
    return {**record, "won": obs.won, "steps": obs.step, "transitions": transitions}


def _meta(config: Config) -> dict[str, Any]:
    """What collect.json records: the settings a resumed collection must keep (the batch size may change)."""
    c = config.collect
    return {
        "split": c.split, "num_tasks": c.num_tasks, "batch_size": c.batch_size, "max_steps": c.max_steps,
        "seed": c.seed, "policy": {"expert": c.expert, "admissible": c.admissible, "seen": c.seen},
        "data_dir": config.environment.data_dir, "trajectories": TRAJECTORIES_FILE,
    }  # fmt: skip


def open_collection(config: Config, out: Path, *, resume: bool = False) -> list[Game]:
    """Create the output directory, or reopen it to resume (same settings); returns the games to play."""
    trajectories = out / TRAJECTORIES_FILE
    meta = _meta(config)
    if (out / COLLECT_FILE).exists():
        if not resume:
            raise ImplementError(f"{out} already holds collected data; pass --resume, or another --out")
        stored = json.loads((out / COLLECT_FILE).read_text())
        changed = [k for k in meta if k != "batch_size" and stored.get(k) != meta[k]]
        if changed:
            raise ConfigError(
                f"--resume with settings that differ from {out / COLLECT_FILE}: "
                + "; ".join(f"{k}: {stored.get(k)!r} -> {meta[k]!r}" for k in changed)
            )
        repair_jsonl(trajectories)
    games = select_tasks(config)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / COLLECT_FILE, meta)
    done = {t["game"] for t in read_jsonl(trajectories)}
    return [g for g in games if g.id not in done]


_worker_env: AlfworldEnv | None = None  # one environment per worker process


def _play(game: Game, settings: CollectConfig) -> dict[str, Any]:
    """Play one game in a worker process, on that process's environment."""
    global _worker_env
    if _worker_env is None:
        _worker_env = AlfworldEnv(max_steps=settings.max_steps, privileged=True)
    return play_trajectory(_worker_env, game, settings)


def collect(
    config: Config,
    out: Path,
    games: list[Game],
    *,
    on_trajectory: Callable[[dict[str, Any]], None] = lambda record: None,
) -> dict[str, Any]:
    """Play `games` (see `open_collection`) into trajectories.jsonl; returns counts of the whole file.

    `collect.batch_size` worker processes play at once (the engine is single-threaded: threads would
    take turns); each trajectory is appended as soon as it is finished. The workers are
    spawned and import the caller's `__main__`: call this under `if __name__ == "__main__"`.
    """
    trajectories = out / TRAJECTORIES_FILE
    context = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
    with ProcessPoolExecutor(config.collect.batch_size, mp_context=context) as pool:
        pending = [pool.submit(_play, game, config.collect) for game in games]
        try:
            for future in as_completed(pending):
                record = future.result()
                append_jsonl(trajectories, record)
                on_trajectory(record)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return collected_counts(trajectories)


def collected_counts(trajectories: Path) -> dict[str, Any]:
    records = read_jsonl(trajectories)
    steps = [t for r in records for t in r["transitions"]]
    return {
        "trajectories": len(records),
        "won": sum(r["won"] for r in records),
        "transitions": len(steps),
        "failed_actions": sum(not t["success"] for t in steps),
        "by_source": {s: sum(t["source"] == s for t in steps) for s in ("expert", "admissible", "seen")},
    }
