"""`SymbolicWorldModel`: exact rules for ALFWorld's deterministic actions, learned placements for the rest.

Perception is the exact text parser (`update_state`); an action the environment or
client says failed changes nothing, and frames are refused (text only). Prediction simulates ALFWorld's text
engine on the symbolic state (`rules`): it decides from the PDDL domain's preconditions
whether an action succeeds, writes the feedback the engine's grammar would print, and
parses it with the same parser, so a prediction follows the parser's conventions exactly.
A failed action leaves the state unchanged (the engine answers "Nothing happens.").

What the state cannot tell is what lies in a receptacle never seen inside. For those
actions (`uncertain_target`: going to an unvisited receptacle, opening a closed one whose
contents are unknown) `predict(n=...)` returns `n` samples of the contents, drawn from
placement statistics fitted on the initial placements of ALFWorld's train games
(`placements`: `inReceptacle` facts of the PDDL problems) or, with MetaICL object lists
from earlier trials, mostly those lists. Every other action gets exactly one predicted state.

Imagined contents of a closed receptacle: going to an unvisited openable receptacle shows
"The X is closed." in the real game; like the paper, the prediction also imagines what
opening it would show, and lists those objects under the receptacle while `open` stays
false. A predicted state with objects in a closed receptacle the agent never opened is
therefore an imagination of its contents, not something the agent has seen.

Reach: ALFWorld puts some receptacles at one spot (a dresser and its drawers, a shelf
and a TV stand), and the agent acts on all of them from there. The state records only
one (`agent_location`), so the fit also counts, per room (identified by its receptacle
names), which receptacles share a spot in the train problems; actions on those
neighbours are predicted to succeed. In a room never seen in training only the agent's
own receptacle is within reach.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from implement.envs.commands import parse_command
from implement.envs.games import Game
from implement.errors import DataError
from implement.metaicl import Conditions
from implement.state import SymbolicState, base_name, object_type, receptacle_type
from implement.world_model.base import Perceived, is_information_gathering, require_text
from implement.world_model.perception import update_state
from implement.world_model.symbolic.placements import (
    PlacementCounts,
    fit_placements,
    packaged_model,
    read_model_file,
    write_model_file,
)
from implement.world_model.symbolic.rules import Scene, feedback, split_instance

FORMAT_VERSION = 1


@dataclass
class SymbolicWorldModel:
    """The embedded CPU world model (see the module docstring).

    `metaicl_weight` is the share of samples given to a MetaICL object list of the target
    receptacle; the rest follows the fitted prior. `seed` makes sampling reproducible: the
    same (state, action, conditions, n) always gives the same samples.
    """

    counts: PlacementCounts = field(default_factory=PlacementCounts)
    metaicl_weight: float = 0.9
    seed: int = 0
    name: str = "symbolic"

    # ------------------------------------------------------------ fitting and files

    @classmethod
    def fit(
        cls,
        games: str | Iterable[Game | Path | str] = "train",
        *,
        root: Path | None = None,
        progress: Callable[[], None] | None = None,
    ) -> SymbolicWorldModel:
        """The model of a split's (or the given games') initial placements (see `fit_placements`)."""
        return cls(counts=fit_placements(games, root=root, progress=progress))

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "metaicl_weight": self.metaicl_weight, "seed": self.seed,
                "counts": self.counts.to_dict()}  # fmt: skip

    def save(self, path: Path | str) -> None:
        write_model_file(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SymbolicWorldModel:
        if data.get("format") != FORMAT_VERSION:
            raise DataError(
                f"symbolic world model format: expected {FORMAT_VERSION}, got {data.get('format')!r}"
            )
        return cls(
            counts=PlacementCounts.from_dict(data["counts"]),
            metaicl_weight=float(data.get("metaicl_weight", 0.9)),
            seed=int(data.get("seed", 0)),
        )

    @classmethod
    def load(cls, path: Path | str) -> SymbolicWorldModel:
        return read_model_file(path, cls.from_dict)

    @classmethod
    def default(cls) -> SymbolicWorldModel:
        """The model fitted on ALFWorld's full train split, shipped with the package."""
        return cls.from_dict(packaged_model())

    # ------------------------------------------------------------ the protocol

    async def perceive(self, prev: SymbolicState, seen: Perceived) -> SymbolicState:
        require_text(self.name, seen)
        if seen.succeeded is False:
            return prev
        return update_state(prev, seen.action, seen.observation)

    async def predict(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]:
        """One state for a certain outcome; `n` samples of the unseen contents otherwise."""
        return self.predict_sync(state, action, conditions, n=n)

    def predict_sync(
        self, state: SymbolicState, action: str, conditions: Conditions | None = None, *, n: int = 1
    ) -> list[SymbolicState]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        action = _clean(action)
        target = self.uncertain_target(state, action)
        if target is None:
            return [update_state(state, action, feedback(Scene(state, self.counts), action))]
        rng = random.Random(self._seed_of(state, action, conditions, n))
        samples = []
        for _ in range(n):
            names = self._name(state, self.sample_contents(target, conditions, rng))
            predicted = update_state(state, action, feedback(Scene(state, self.counts, names), action))
            rec = predicted.receptacle(target)
            if rec.open is False:  # going to a closed one: imagine it opened (contents listed, open false)
                imagined = (*rec.objects, *names)
                predicted = replace(
                    predicted, world_state={**predicted.world_state, target: replace(rec, objects=imagined)}
                )
            samples.append(predicted)
        return samples

    def uncertain_target(self, state: SymbolicState, action: str) -> str | None:
        """The receptacle whose unseen contents decide the outcome of `action`, if any (then samples differ).

        An information-gathering action (`is_information_gathering`) on a receptacle of
        the room; opening needs the receptacle within reach and closed, or nothing happens.
        """
        action = _clean(action)
        command = parse_command(action)
        target = command.target if command is not None else None
        if command is None or target not in state.world_state or not is_information_gathering(state, action):
            return None
        if command.verb == "open" and (
            target not in Scene(state, self.counts).reachable or state.world_state[target].open is not False
        ):
            return None
        return target

    def sample_contents(
        self, receptacle: str, conditions: Conditions | None, rng: random.Random
    ) -> list[str]:
        """Object types of one imagined look into `receptacle` (MetaICL list or the fitted prior)."""
        listed = conditions.object_lists.get(receptacle) if conditions is not None else None
        if listed is not None and rng.random() < self.metaicl_weight:
            return [object_type(o) for o in listed]  # a list holds types ('apple') or names ('apple 1')
        rtype = receptacle_type(receptacle)
        kinds: list[str] = []
        for otype in self.counts.candidate_types(rtype):
            if rng.random() < self.counts.p_holds(rtype, otype):
                kinds.append(otype)
                mean = self.counts.multiplicity(rtype, otype)
                while rng.random() < (mean - 1) / mean:
                    kinds.append(otype)
        return kinds

    # ------------------------------------------------------------ internals

    def _seed_of(self, state: SymbolicState, action: str, conditions: Conditions | None, n: int) -> int:
        given = conditions.to_dict() if conditions is not None else None
        if given == Conditions().to_dict():  # no conditions yet draws as none at all
            given = None
        key = json.dumps([self.seed, state.to_dict(), action, given, n])
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")

    def _name(self, state: SymbolicState, kinds: list[str]) -> tuple[str, ...]:
        """Engine-like names ('apple 2') for sampled object types, with ids unused in `state`."""
        used: dict[str, set[int]] = {}
        entries = [o for r in state.world_state.values() for o in r.objects]
        entries += list(state.unlisted_states) + ([state.inventory] if state.holding else [])
        for entry in entries:
            instance = split_instance(base_name(entry))
            if instance is not None:
                used.setdefault(instance[0], set()).add(instance[1])
        names = []
        for kind in kinds:
            taken = used.setdefault(kind, set())
            number = next(i for i in range(1, len(taken) + 2) if i not in taken)
            taken.add(number)
            names.append(f"{kind} {number}")
        return tuple(names)


def _clean(action: str) -> str:
    """The action as the engine reads it: lower-case, single spaces."""
    return " ".join(action.strip().lower().split())


__all__ = ["FORMAT_VERSION", "SymbolicWorldModel"]
