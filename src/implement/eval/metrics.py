"""Metrics of a run from its episode records: SR@k overall and per task type, steps, failures."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import mean
from typing import Any


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(mean(values), 4) if values else None


def summarize(
    episodes: list[dict[str, Any]], games: dict[str, str], trials: int, *, replay_solved: bool = False
) -> dict[str, Any]:
    """The run summary. `games` maps every game id of the run to its task type.

    SR@k is the share of the run's games solved in any of their first k trials; games not
    played yet count as unsolved, so a partial run reports a lower bound.
    """
    first_win: dict[str, int] = {}
    for e in episodes:
        if e["won"]:
            first_win[e["game"]] = min(first_win.get(e["game"], e["trial"]), e["trial"])

    def sr_at(ids: list[str]) -> dict[str, float]:
        return {
            str(k): round(sum(1 for g in ids if first_win.get(g, trials + 1) <= k) / len(ids), 4)
            if ids
            else 0.0
            for k in range(1, trials + 1)
        }

    by_type: dict[str, list[str]] = {}
    for game_id, task_type in sorted(games.items()):
        by_type.setdefault(task_type, []).append(game_id)

    won = [e for e in episodes if e["won"]]
    steps = sum(e["steps"] for e in episodes)
    by_trial = []
    for t in range(1, trials + 1):
        played = [e for e in episodes if e["trial"] == t]
        if played:
            by_trial.append(
                {
                    "trial": t,
                    "attempted": len(played),
                    "solved": sum(e["won"] for e in played),
                    "steps_ratio_to_walkthrough": _ratio([e for e in played if e["won"]]),
                }
            )
    return {
        "games": len(games),
        "trials": trials,
        "episodes": len(episodes),
        "complete": _complete(episodes, games, trials, {} if replay_solved else first_win),
        "sr_at": sr_at(list(games)),
        "by_task_type": {t: {"games": len(ids), "sr_at": sr_at(ids)} for t, ids in by_type.items()},
        "by_trial": by_trial,
        "steps_per_success": _mean(e["steps"] for e in won),
        "steps_ratio_to_walkthrough": _ratio(won),
        "failed_action_rate": round(sum(len(e["failed_actions"]) for e in episodes) / steps, 4)
        if steps
        else None,
        "errors": sum(1 for e in episodes if e.get("error")),
        "usage": _usage_totals(episodes),
    }


def _usage_totals(episodes: list[dict[str, Any]]) -> dict[str, float]:
    """Model calls, tokens, cost and cache hits/misses summed over the episodes, and per step."""
    totals: dict[str, float] = {}
    for e in episodes:
        for key, value in e.get("usage", {}).items():
            totals[key] = totals.get(key, 0) + value
    steps = sum(e["steps"] for e in episodes)
    if steps:
        totals.update({f"{key}_per_step": round(totals[key] / steps, 4) for key in list(totals)})
    return totals


def _ratio(won: list[dict[str, Any]]) -> float | None:
    return _mean(e["steps"] / e["walkthrough_steps"] for e in won if e.get("walkthrough_steps"))


def _complete(
    episodes: list[dict[str, Any]], games: dict[str, str], trials: int, first_win: dict[str, int]
) -> bool:
    played = {(e["game"], e["trial"]) for e in episodes}
    return all(
        (g, t) in played or first_win.get(g, trials + 1) < t for g in games for t in range(1, trials + 1)
    )
