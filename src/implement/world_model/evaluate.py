"""`implement wm eval`: a world model's predictions against what real ALFWorld games do.

Held-out transitions are played on the real engine (walkthroughs with seeded random
admissible and inadmissible actions woven in). The truth of a step is the parsed next
state (the parser agrees with the engine's facts on everything observed); the truth of
a receptacle's unseen contents comes from the engine's facts. Reported:

- exact next-state match on deterministic actions (everything but going to or opening
  a receptacle whose inside was never seen), also by action verb, its misses by kind (no
  change predicted, a change predicted where nothing changed, the wrong change), and the
  accuracy of predicting whether an action that changes the state when it succeeds (not
  look, inventory, examine) fails, read as "the predicted state is the state before";
- for information-gathering actions, the mean log-likelihood of the true contents'
  object types under the predicted samples (add-half smoothing);
- the search rank: receptacles ordered by the predicted probability of holding the
  goal's object type, the rank of the first one that really holds it (1 = oracle),
  beside the uniform order's expected rank; without conditions, and with MetaICL
  object lists from a previous visit of every receptacle.

Every score compares states: a model answering diffs (`world_model.format = "diff"`) returns
the diff applied to the given state, so both formats are scored the same way, on the next
state; the report names the format.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean
from typing import Any

from implement.envs.alfworld import AlfworldEnv
from implement.envs.commands import Command, Verb, format_command, parse_command
from implement.envs.games import Game, read_walkthrough
from implement.metaicl import Conditions
from implement.state import SymbolicState, object_type
from implement.world_model.base import WorldModel, action_target, is_information_gathering
from implement.world_model.perception import initial_state, update_state

NOISE = ("look", "inventory", "take nothing from nowhere")
OBSERVING: tuple[Verb, ...] = ("look", "inventory", "examine", "help")


@dataclass(frozen=True)
class Transition:
    game_id: str
    before: SymbolicState
    action: str
    succeeded: bool
    after: SymbolicState
    information_gathering: bool
    true_contents: tuple[str, ...] = ()  # object types truly in the target (information gathering only)


def _contents(env: AlfworldEnv) -> dict[str, set[str]]:
    """Receptacle -> the object types truly in it."""
    return {rec: {object_type(o) for o in objects} for rec, objects in env.true_contents().items()}


def play_transitions(env: AlfworldEnv, game: Game, *, seed: int, detours: float = 0.3) -> list[Transition]:
    """One episode of the walkthrough with seeded detours; every step becomes a transition."""
    rng = random.Random(f"{seed}:{game.id}")
    _, obs = env.reset(game)
    state = initial_state(obs.text)
    transitions: list[Transition] = []
    for planned in read_walkthrough(game):
        actions = [planned]
        if rng.random() < detours:
            actions.insert(0, rng.choice([*obs.admissible_commands, *NOISE]))
        for action in actions:
            if obs.done:
                return transitions
            gathering = is_information_gathering(state, action)
            obs = env.step(action)
            after = update_state(state, obs.action or action, obs.text)
            target = action_target(obs.action or action)
            truth = tuple(sorted(_contents(env).get(target or "", ()))) if gathering else ()
            transitions.append(
                Transition(game.id, state, obs.action or action, obs.succeeded, after, gathering, truth)
            )
            state = after
    return transitions


def _share_with(samples: list[SymbolicState], receptacle: str, kind: str) -> float:
    """Share of samples in which `receptacle` holds an object of type `kind`."""
    if not samples:
        return 0.0
    hits = sum(any(object_type(o) == kind for o in s.receptacle(receptacle).objects) for s in samples)
    return hits / len(samples)


def _log_likelihood(samples: list[SymbolicState], receptacle: str, kinds: tuple[str, ...]) -> float | None:
    if not kinds or not samples:  # nothing to score: no truth, or no usable sample
        return None
    n = len(samples)
    return mean(math.log((_share_with(samples, receptacle, k) * n + 0.5) / (n + 1)) for k in kinds)


def _rank(scores: dict[str, float], holders: set[str]) -> float:
    """Expected rank of the first true holder when receptacles are sorted by score (ties at random)."""
    best = max(scores[r] for r in holders)
    above = sum(1 for r, s in scores.items() if s > best)
    tied_others = sum(1 for r, s in scores.items() if s == best and r not in holders)
    tied_holders = sum(1 for r in holders if scores[r] == best)
    return 1 + above + tied_others / (tied_holders + 1)


async def search_rank(
    model: WorldModel, start: SymbolicState, goal_type: str, truth: dict[str, set[str]], *, samples: int,
    metaicl: bool,
) -> tuple[float, float] | None:  # fmt: skip
    """(model's rank, uniform expected rank) of the first receptacle holding `goal_type`."""
    receptacles = list(start.world_state)
    holders = {r for r in receptacles if goal_type in truth.get(r, set())}
    if not holders:
        return None
    conditions = (
        Conditions(object_lists={r: sorted(truth.get(r, set())) for r in receptacles}) if metaicl else None
    )
    go_to = {r: format_command(Command("go to", receptacle=r)) for r in receptacles}
    predictions = await asyncio.gather(
        *(model.predict(start, go_to[r], conditions, n=samples) for r in receptacles)
    )
    scores = {r: _share_with(p, r, goal_type) for r, p in zip(receptacles, predictions, strict=True)}
    return _rank(scores, holders), (len(receptacles) + 1) / (len(holders) + 1)


async def _rank_search(
    model: WorldModel, env: AlfworldEnv, game: Game, ranks: dict[str, list[float]], *, samples: int,
    metaicl: bool,
) -> None:  # fmt: skip
    """Add the game's search ranks (model, uniform, and with MetaICL lists) to `ranks`."""
    _, obs = env.reset(game)
    start = initial_state(obs.text)
    truth = _contents(env)
    goal = goal_object_type(game)
    result = await search_rank(model, start, goal, truth, samples=samples, metaicl=False)
    if result is None:
        return
    ranks["model"].append(result[0])
    ranks["uniform"].append(result[1])
    if metaicl:
        with_conditions = await search_rank(model, start, goal, truth, samples=samples, metaicl=True)
        ranks["model_metaicl"].append(with_conditions[0] if with_conditions else result[0])


def goal_object_type(game: Game) -> str:
    """The goal's object type from the game's folder name (`<task>-<Object>-<Mod>-<Recep>-<scene>`)."""
    folder = game.id.split("/")[1]
    return folder.split("-")[1].lower()


def _avg(values: list[float] | list[bool]) -> float | None:
    return round(mean(float(v) for v in values), 4) if values else None


def _miss_kind(before: SymbolicState, after: SymbolicState, predicted: SymbolicState) -> str:
    """What a wrong deterministic prediction got wrong."""
    if predicted == before:
        return "predicted no change"
    if after == before:
        return "predicted a change, nothing changed"
    return "predicted the wrong change"


async def evaluate_world_model(
    model: WorldModel,
    games: list[Game],
    *,
    samples: int = 10,
    seed: int = 0,
    metaicl: bool = True,
    search: bool = True,
    on_game: Callable[[Game], None] = lambda game: None,
) -> dict[str, Any]:
    """Play the games' transitions and score the model on them (`search`: also the search rank,
    one prediction per receptacle of every game, twice with `metaicl`)."""
    env = AlfworldEnv(privileged=True, max_steps=200)
    exact: list[bool] = []
    exact_by_verb: dict[str, list[bool]] = {}
    misses: Counter[str] = Counter()
    failure: list[bool] = []
    likelihood: list[float] = []
    ranks: dict[str, list[float]] = {"model": [], "uniform": [], "model_metaicl": []}
    for game in games:
        for t in play_transitions(env, game, seed=seed):
            if t.information_gathering:
                predicted = await model.predict(t.before, t.action, None, n=samples)
                ll = _log_likelihood(predicted, action_target(t.action) or "", t.true_contents)
                if ll is not None:
                    likelihood.append(ll)
                continue
            (predicted_state, *_) = await model.predict(t.before, t.action, None, n=1) or [t.before]
            exact.append(predicted_state == t.after)
            if not exact[-1]:
                misses[_miss_kind(t.before, t.after, predicted_state)] += 1
            command = parse_command(t.action)
            exact_by_verb.setdefault(command.verb if command else "other", []).append(exact[-1])
            if command is None or command.verb not in OBSERVING:  # these succeed without changing the state
                failure.append((predicted_state == t.before) == (not t.succeeded))
        if search:
            await _rank_search(model, env, game, ranks, samples=samples, metaicl=metaicl)
        on_game(game)

    report: dict[str, Any] = {
        "model": model.name,
        "games": len(games),
        "deterministic_transitions": len(exact),
        "deterministic_exact_match": _avg(exact),
        "exact_match_by_verb": {
            verb: {"transitions": len(hits), "exact_match": _avg(hits)}
            for verb, hits in sorted(exact_by_verb.items())
        },
        "exact_misses_by_kind": dict(sorted(misses.items())),
        "failure_prediction_accuracy": _avg(failure),
        "information_gathering_transitions": len(likelihood),
        "contents_log_likelihood": _avg(likelihood),
        "search_rank": _avg(ranks["model"]),
        "search_rank_uniform": _avg(ranks["uniform"]),
    }
    if metaicl:
        report["search_rank_metaicl"] = _avg(ranks["model_metaicl"])
    return {**report, **_model_facts(model)}


def _model_facts(model: WorldModel) -> dict[str, Any]:
    """What a model keeps of its own calls: stats (dropped samples in plain sight), dialect, answer
    format, usage."""
    facts: dict[str, Any] = {}
    stats = getattr(model, "stats", None)
    if stats is not None:
        facts["model_stats"] = stats.to_dict() if hasattr(stats, "to_dict") else dict(stats)
        if "dropped_samples" in facts["model_stats"]:  # unparseable predictions
            facts["dropped_samples"] = facts["model_stats"]["dropped_samples"]
    dialect = getattr(model, "dialect", None)
    if dialect is not None:
        facts["dialect"] = dialect  # the state conventions its prompts and answers use
    answer_format = getattr(model, "format", None)
    if answer_format is not None:
        facts["format"] = answer_format  # whole next states or diffs
    usage = getattr(model, "usage", None)
    if usage is not None:
        facts["llm_usage"] = usage.to_dict()
    return facts


__all__ = ["Transition", "evaluate_world_model", "goal_object_type", "play_transitions"]
