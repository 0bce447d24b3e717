"""Raw TextWorld (as ALFWorld loads games) vs `AlfworldEnv` on the same valid_seen games.

Measures, per game: the first reset (load included), a repeated reset of the same game,
and a step (the walkthrough replayed). Prints means and the ratios AlfworldEnv / raw.
Goals: repeated reset <= 0.1x raw; step <= 1.05x raw.

    python bench/env_speed.py [--games 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import textworld
import textworld.gym
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

from implement.envs.alfworld import AlfworldEnv
from implement.envs.engine import TranslationCache
from implement.envs.games import Game, find_games, read_walkthrough


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def raw_env(game: Game):  # type: ignore[no-untyped-def]
    infos = textworld.EnvInfos(won=True, admissible_commands=True)
    env_id = textworld.gym.register_games(
        [str(game.path)], infos, batch_size=1, asynchronous=False, max_episode_steps=100,
        wrappers=[AlfredDemangler(), AlfredInfos()],
    )  # fmt: skip
    return textworld.gym.make(env_id)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--games", type=int, default=20)
    args = parser.parse_args()
    games = find_games("valid_seen")
    games = games[:: max(1, len(games) // args.games)][: args.games]
    keys = ("raw_first", "raw_again", "raw_step", "ours_cold", "ours_disk", "ours_again", "ours_step")
    rows: dict[str, list[float]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as cache:
        for game in games:
            plan = read_walkthrough(game)
            raw = raw_env(game)
            t, _ = _timed(raw.reset)
            rows["raw_first"].append(t)
            t, _ = _timed(raw.reset)
            rows["raw_again"].append(t)
            for action in plan:
                t, _ = _timed(raw.step, [action])
                rows["raw_step"].append(t)
            raw.close()

            t, _ = _timed(AlfworldEnv(cache_dir=Path(cache)).reset, game)  # translation written to disk
            rows["ours_cold"].append(t)
            env = AlfworldEnv(translations=TranslationCache(Path(cache)))
            t, _ = _timed(env.reset, game)  # a new process: translation read from disk
            rows["ours_disk"].append(t)
            t, _ = _timed(env.reset, game)
            rows["ours_again"].append(t)
            for action in plan:
                t, _ = _timed(env.step, action)
                rows["ours_step"].append(t)

    mean = {k: statistics.mean(v) for k, v in rows.items()}
    print(f"{len(games)} valid_seen games, {len(rows['raw_step'])} walkthrough steps each side")
    print(f"{'':28}{'raw TextWorld':>16}{'AlfworldEnv':>14}{'ratio':>9}")
    for label, raw_key, ours_key in (
        ("first reset (cold cache)", "raw_first", "ours_cold"),
        ("first reset (disk cache)", "raw_first", "ours_disk"),
        ("repeated reset", "raw_again", "ours_again"),
        ("step", "raw_step", "ours_step"),
    ):
        ratio = mean[ours_key] / mean[raw_key]
        print(f"{label:28}{mean[raw_key] * 1000:13.1f} ms{mean[ours_key] * 1000:11.1f} ms{ratio:8.3f}x")
    print(f"goal: repeated reset <= 0.1x -> {mean['ours_again'] / mean['raw_again']:.3f}x; "
          f"step <= 1.05x -> {mean['ours_step'] / mean['raw_step']:.3f}x")  # fmt: skip


if __name__ == "__main__":
    main()
