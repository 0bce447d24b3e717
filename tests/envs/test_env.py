"""AlfworldEnv on the real TextWorld engine: same game as raw TextWorld, cheap resets, contract checks."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
import textworld
import textworld.gym
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

from implement.envs.alfworld import AlfworldEnv
from implement.envs.engine import TranslationCache
from implement.envs.games import Game, read_walkthrough
from implement.errors import EnvError


def _script(game: Game, seed: int, length: int = 20) -> list[str]:
    """The walkthrough with random commands (some inadmissible) woven in, as a fixed script."""
    rng = random.Random(seed)
    noise = ["take nothing from nowhere", "look", "inventory", "open fridge 1", "examine countertop 1"]
    script = []
    for action in read_walkthrough(game):
        script.extend(rng.sample(noise, 2))
        script.append(action)
    return script[:length] if length < len(script) else script


def _raw_transcript(game: Game, script: list[str]) -> list[tuple[str, tuple[str, ...], bool]]:
    infos = textworld.EnvInfos(won=True, admissible_commands=True)
    env_id = textworld.gym.register_games(
        [str(game.path)], infos, batch_size=1, asynchronous=False, max_episode_steps=100,
        wrappers=[AlfredDemangler(), AlfredInfos()],
    )  # fmt: skip
    env = textworld.gym.make(env_id)
    obs, info = env.reset()
    transcript = [(obs[0], tuple(info["admissible_commands"][0]), bool(info["won"][0]))]
    for action in script:
        obs, _, _, info = env.step([action])
        transcript.append((obs[0].strip(), tuple(info["admissible_commands"][0]), bool(info["won"][0])))
    env.close()
    return transcript


def _transcript(env: AlfworldEnv, game: Game, script: list[str]) -> list[tuple[str, tuple[str, ...], bool]]:
    _, obs = env.reset(game)
    transcript = [(obs.text, obs.admissible_commands, obs.won)]
    for action in script:
        if obs.done:
            break
        obs = env.step(action)
        transcript.append((obs.text, obs.admissible_commands, obs.won))
    return transcript


def test_same_game_as_raw_textworld_across_resets(tiny_games: list[Game], cache_dir: Path) -> None:
    env = AlfworldEnv(max_steps=100, cache_dir=cache_dir)
    for game in tiny_games:
        script = _script(game, seed=1, length=100)
        raw = _raw_transcript(game, script)
        assert raw[-1][2], "the script ends with the walkthrough, so the raw engine wins"
        for _ in range(2):  # repeated resets of a loaded game replay the same game
            assert _transcript(env, game, script) == raw


def test_translation_cached_on_disk(tiny_games: list[Game], cache_dir: Path) -> None:
    game = tiny_games[0]
    first = AlfworldEnv(cache_dir=cache_dir)
    first.reset(game)
    cache = TranslationCache(cache_dir)
    env = AlfworldEnv(translations=cache)  # as in a fresh process: nothing in memory yet
    _, obs = env.reset(game)
    assert cache.hits == {"memory": 0, "disk": 1, "translated": 0}
    assert obs.text == first.reset(game)[1].text


def test_torn_cache_file_is_translated_again(tiny_games: list[Game], cache_dir: Path) -> None:
    AlfworldEnv(cache_dir=cache_dir).reset(tiny_games[0])
    (entry,) = cache_dir.rglob("*.pkl.z")
    entry.write_bytes(entry.read_bytes()[:50])
    cache = TranslationCache(cache_dir)
    env = AlfworldEnv(translations=cache)
    env.reset(tiny_games[0])
    assert cache.hits["translated"] == 1


def test_walkthrough_wins_with_llm_style_commands(tiny_games: list[Game], cache_dir: Path) -> None:
    env = AlfworldEnv(cache_dir=cache_dir)
    for game in tiny_games:
        task, obs = env.reset(game)
        assert task.goal.endswith(".") and task.task_type == game.task_type
        for action in read_walkthrough(game):
            styled = action.upper() + "."
            if action.startswith("move "):
                styled = "Put " + action[len("move ") :].replace(" to ", " in ") + "."
            obs = env.step(styled)
            assert obs.succeeded, (styled, obs.text)
            assert obs.raw_action == styled and obs.action == action
        assert obs.won and obs.done


def test_failed_action_and_step_limit(tiny_games: list[Game], cache_dir: Path) -> None:
    env = AlfworldEnv(max_steps=3, cache_dir=cache_dir)
    env.reset(tiny_games[0])
    obs = env.step("fly to the moon")
    assert obs.text == "Nothing happens." and not obs.succeeded and not obs.done
    env.step("look")
    obs = env.step("look")
    assert obs.done and not obs.won and obs.step == 3
    with pytest.raises(EnvError, match="done"):
        env.step("look")


def test_contract_errors(tiny_games: list[Game], cache_dir: Path) -> None:
    env = AlfworldEnv(cache_dir=cache_dir)
    with pytest.raises(EnvError, match="before reset"):
        env.step("look")
    with pytest.raises(EnvError, match="at least 1"):
        AlfworldEnv(max_steps=0)
    env.reset(tiny_games[0])
    with pytest.raises(EnvError, match="privileged"):
        env.true_facts()
    privileged = AlfworldEnv(privileged=True, cache_dir=cache_dir)
    privileged.reset(tiny_games[0])
    assert any(fact.name == "inreceptacle" for fact in privileged.true_facts())


def test_envs_in_threads_do_not_corrupt_each_other(tiny_games: list[Game], cache_dir: Path) -> None:
    scripts = {g.id: _script(g, seed=2, length=12) for g in tiny_games}
    expected = {
        g.id: _transcript(AlfworldEnv(max_steps=100, cache_dir=cache_dir), g, scripts[g.id])
        for g in tiny_games
    }
    results: dict[str, list] = {}
    errors: list[BaseException] = []

    def play(game: Game) -> None:
        try:
            results[game.id] = _transcript(
                AlfworldEnv(max_steps=100, cache_dir=cache_dir), game, scripts[game.id]
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=play, args=(g,)) for g in tiny_games]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == expected
