"""The world-model evaluator on the built games, with models whose scores are known in advance."""

from __future__ import annotations

import asyncio

from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import Game
from implement.metaicl import Conditions
from implement.state import SymbolicState
from implement.world_model.base import Perceived
from implement.world_model.evaluate import evaluate_world_model, play_transitions


class Still:
    """Predicts that nothing ever changes."""

    name = "still"

    async def perceive(self, prev: SymbolicState, seen: Perceived) -> SymbolicState:
        return prev

    async def predict(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]:
        return [state] * n


def test_transitions_cover_the_walkthrough_and_detours(tiny_games: list[Game]) -> None:
    env = AlfworldEnv(privileged=True, max_steps=200)
    for game in tiny_games:
        transitions = play_transitions(env, game, seed=0, detours=0.5)
        assert transitions[-1].after != transitions[0].before
        gathering = [t for t in transitions if t.information_gathering]
        assert gathering and all(t.action.startswith(("go to ", "open ")) for t in gathering)
        assert any(t.true_contents for t in gathering)


def test_a_model_that_predicts_nothing_scores_as_expected(tiny_games: list[Game]) -> None:
    report = asyncio.run(evaluate_world_model(Still(), tiny_games, samples=3))
    env = AlfworldEnv(privileged=True, max_steps=200)
    deterministic = [
        t for g in tiny_games for t in play_transitions(env, g, seed=0) if not t.information_gathering
    ]
    unchanged = sum(t.after == t.before for t in deterministic) / len(deterministic)
    acting = [t for t in deterministic if not t.action.startswith(("look", "inventory", "examine", "help"))]
    failed = sum(not t.succeeded for t in acting) / len(acting)
    assert report["deterministic_transitions"] == len(deterministic)
    assert report["deterministic_exact_match"] == round(unchanged, 4)
    changed = sum(t.after != t.before for t in deterministic)  # each one missed by predicting nothing
    assert report["exact_misses_by_kind"] == {"predicted no change": changed}
    assert report["failure_prediction_accuracy"] == round(failed, 4)
    # every receptacle scores 0: ties broken at random give exactly the uniform expected rank
    assert report["search_rank"] == report["search_rank_uniform"] == report["search_rank_metaicl"]
    assert report["contents_log_likelihood"] < 0
