"""`SymbolicWorldModel`: exact rules for ALFWorld's deterministic actions, learned placements for the rest.

Perception is the exact text parser (`update_state`). Prediction simulates ALFWorld's text
engine on the symbolic state: it decides from the PDDL domain's preconditions whether an
action succeeds, writes the feedback the engine's grammar would print, and parses it with
the same parser, so a prediction follows the parser's conventions exactly. A failed action
leaves the state unchanged (the engine answers "Nothing happens.").

What the state cannot tell is what lies in a receptacle never seen inside. For those
actions (`is_uncertain`: going to an unvisited receptacle, opening a closed one whose
contents are unknown) `predict(n=...)` returns `n` samples of the contents, drawn from
placement statistics fitted on the initial placements of ALFWorld's train games
(`fit`: `inReceptacle` facts of the PDDL problems) or, with MetaICL object lists from
earlier trials, mostly those lists. Every other action gets exactly one predicted state.

Imagined contents of a closed receptacle: going to an unvisited openable receptacle shows
"The X is closed." in the real game; like the paper, the prediction also imagines what
opening it would show, and lists those objects under the receptacle while `open` stays
false. A predicted state with objects in a closed receptacle the agent never opened is
therefore an imagination of its contents, not something the agent has seen.

Reach: ALFWorld puts some receptacles at one spot (a dresser and its drawers, a shelf
and a TV stand), and the agent acts on all of them from there. The state records only
one (`agent_location`), so `fit` also counts, per room (identified by its receptacle
names), which receptacles share a spot in the train problems; actions on those
neighbours are predicted to succeed. In a room never seen in training only the agent's
own receptacle is within reach.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from implement.envs.games import Game, find_games
from implement.errors import DataError
from implement.metaicl import Conditions
from implement.state import (
    SymbolicState,
    base_name,
    object_states,
    object_type,
    receptacle_type,
    update_state,
)
from implement.world_model.base import action_target, is_information_gathering

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_PATH = "data/symbolic_default.json"
KNIFE_TYPES = frozenset({"knife", "butterknife"})
# Object properties the PDDL problems declare per object; the model keeps the types having each.
PROPERTIES = (
    "pickupable",
    "heatable",
    "coolable",
    "cleanable",
    "sliceable",
    "toggleable",
    "isReceptacleObject",
)
TREATMENTS = {
    "heat": ("microwave", "heatable"),
    "cool": ("fridge", "coolable"),
    "clean": ("sinkbasin", "cleanable"),
}

_ROOM_FACTS = ("objectType", "receptacleType", "inReceptacle", "receptacleAtLocation", "canContain")
_FACTS = "|".join((*_ROOM_FACTS, "openable", *PROPERTIES))
_FACT = re.compile(r"\((" + _FACTS + r") ([^\s()?]+)(?: ([^\s()?]+))?\)")
_GO_TO = re.compile(r"^go to (?P<r>.+)$")
_OPEN = re.compile(r"^open (?P<r>.+)$")
_CLOSE = re.compile(r"^close (?P<r>.+)$")
_TAKE = re.compile(r"^take (?P<o>.+?) from (?P<r>.+)$")
_MOVE = re.compile(r"^(?:move|put) (?P<o>.+?) (?:to|in/on|into|in|on) (?P<r>.+)$")
_TREAT = re.compile(r"^(?P<verb>heat|cool|clean) (?P<o>.+?) with (?P<r>.+)$")
_SLICE = re.compile(r"^slice (?P<o>.+?) with (?P<k>.+)$")
_USE = re.compile(r"^use (?P<o>.+)$")
_EXAMINE = re.compile(r"^examine (?P<x>.+)$")
_INSTANCE = re.compile(r"^(?P<t>.+) (?P<n>\d+)$")


def _pddl_type(name: str) -> str:
    """'SinkBasinType' -> 'sinkbasin' (the type as the engine's names show it)."""
    return (name[:-4] if name.endswith("Type") else name).lower()


def engine_names(ids: Iterable[str]) -> dict[str, str]:
    """PDDL ids -> the names ALFWorld's engine shows ('Shelf_bar_...' -> 'shelf 2').

    ALFWorld numbers the ids sharing a name prefix in sorted order, from the highest
    number down; a sink's or bathtub's basin keeps 'basin' in its name.
    """
    by_prefix: dict[str, list[str]] = {}
    for pddl_id in sorted(set(ids), key=str.lower):  # the engine sees the ids lower-cased
        prefix, sep, _ = pddl_id.lower().partition("_bar_")
        if sep:
            name = prefix + "basin" if "basin" in pddl_id.lower() else prefix
            by_prefix.setdefault(name, []).append(pddl_id)
    return {i: f"{name} {len(group) - k}" for name, group in by_prefix.items() for k, i in enumerate(group)}


def layout_key(receptacles: Iterable[str]) -> str:
    """A room's identity for co-location: a hash of its receptacle names."""
    return hashlib.sha256("|".join(sorted(receptacles)).encode()).hexdigest()[:16]


def _counter_dict(counts: Mapping[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {k: dict(sorted(v.items())) for k, v in sorted(counts.items())}


@dataclass
class PlacementCounts:
    """Initial placements counted over PDDL problems (all names are engine types, e.g. 'countertop')."""

    games: int = 0
    receptacles: Counter[str] = field(default_factory=Counter)  # rtype -> receptacle instances
    holders: dict[str, Counter[str]] = field(default_factory=dict)  # rtype -> otype -> instances holding >= 1
    objects: dict[str, Counter[str]] = field(default_factory=dict)  # rtype -> otype -> objects placed there
    can_contain: dict[str, set[str]] = field(default_factory=dict)  # rtype -> otypes it may hold
    openable: set[str] = field(default_factory=set)  # openable rtypes
    properties: dict[str, set[str]] = field(default_factory=dict)  # property -> otypes having it
    type_names: dict[str, str] = field(
        default_factory=dict
    )  # otype -> its PDDL name ('cellphone' -> 'CellPhone')
    layouts: Counter[str] = field(default_factory=Counter)  # layout_key -> problems with that room
    shared_spots: dict[str, Counter[str]] = field(
        default_factory=dict
    )  # layout_key -> 'a|b' (receptacle names at one spot) -> problems

    def add_problem(self, problem: str) -> None:
        """Count one PDDL problem's initial placements and static facts."""
        otypes: dict[str, str] = {}
        rtypes: dict[str, str] = {}
        placed: list[tuple[str, str]] = []
        props: list[tuple[str, str]] = []
        spots: dict[str, list[str]] = {}  # location -> receptacle ids
        for fact, a, b in _FACT.findall(problem):
            if fact == "objectType":
                otypes[a] = _pddl_type(b)
                self.type_names[otypes[a]] = b[:-4] if b.endswith("Type") else b
            elif fact == "receptacleType":
                rtypes[a] = _pddl_type(b)
            elif fact == "inReceptacle":
                placed.append((a, b))
            elif fact == "receptacleAtLocation":
                spots.setdefault(b, []).append(a)
            elif fact == "canContain":
                self.can_contain.setdefault(_pddl_type(a), set()).add(_pddl_type(b))
            else:
                props.append((fact, a))
        for fact, entity in props:
            if fact == "openable":
                if entity in rtypes:
                    self.openable.add(rtypes[entity])
            elif entity in otypes:
                self.properties.setdefault(fact, set()).add(otypes[entity])
        contents: dict[str, Counter[str]] = {r: Counter() for r in rtypes}
        for obj, rec in placed:
            if obj in otypes and rec in contents:
                contents[rec][otypes[obj]] += 1
        for rec, held in contents.items():
            rtype = rtypes[rec]
            self.receptacles[rtype] += 1
            self.holders.setdefault(rtype, Counter()).update(held.keys())
            self.objects.setdefault(rtype, Counter()).update(held)
        self._add_layout(engine_names([*otypes, *rtypes]), rtypes, spots)
        self.games += 1

    def _add_layout(self, names: dict[str, str], rtypes: dict[str, str], spots: dict[str, list[str]]) -> None:
        """Count which receptacles of this room share a spot (the agent reaches them all from there)."""
        key = layout_key(names[r] for r in rtypes)
        self.layouts[key] += 1
        shared = self.shared_spots.setdefault(key, Counter())
        for group in spots.values():
            at_spot = sorted(names[r] for r in group if r in rtypes)
            shared.update(f"{a}|{b}" for i, a in enumerate(at_spot) for b in at_spot[i + 1 :])

    def neighbours(self, receptacles: Iterable[str]) -> set[frozenset[str]]:
        """Pairs of receptacles sharing a spot in most train problems of this room (none if unseen)."""
        key = layout_key(receptacles)
        seen = self.layouts.get(key, 0)
        pairs = self.shared_spots.get(key, Counter())
        return {frozenset(p.split("|")) for p, c in pairs.items() if 2 * c > seen}

    def to_dict(self) -> dict[str, Any]:
        return {
            "games": self.games,
            "receptacles": dict(sorted(self.receptacles.items())),
            "holders": _counter_dict(self.holders),
            "objects": _counter_dict(self.objects),
            "can_contain": {k: sorted(v) for k, v in sorted(self.can_contain.items())},
            "openable": sorted(self.openable),
            "properties": {k: sorted(v) for k, v in sorted(self.properties.items())},
            "type_names": dict(sorted(self.type_names.items())),
            "layouts": dict(sorted(self.layouts.items())),
            "shared_spots": {k: dict(sorted(v.items())) for k, v in sorted(self.shared_spots.items()) if v},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlacementCounts:
        return cls(
            games=int(data["games"]),
            receptacles=Counter({str(k): int(v) for k, v in data["receptacles"].items()}),
            holders={k: Counter(v) for k, v in data["holders"].items()},
            objects={k: Counter(v) for k, v in data["objects"].items()},
            can_contain={k: set(v) for k, v in data["can_contain"].items()},
            openable=set(data["openable"]),
            properties={k: set(v) for k, v in data["properties"].items()},
            type_names=dict(data["type_names"]),
            layouts=Counter(data.get("layouts", {})),
            shared_spots={k: Counter(v) for k, v in data.get("shared_spots", {}).items()},
        )


@dataclass
class SymbolicWorldModel:
    """The embedded CPU world model (see the module docstring).

    `metaicl_weight` is the share of samples (and of `p_contains`) given to a MetaICL
    object list of the target receptacle; the rest follows the fitted prior. `seed` makes
    sampling reproducible: the same (state, action, conditions, n) always gives the same samples.
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
        """Count initial placements over a split's (or the given games') PDDL problems.

        The game files are read as JSON and their `pddl_problem` parsed with regexes (no
        TextWorld); `progress` is called once per game.
        """
        paths = [g.path if isinstance(g, Game) else Path(g) for g in _games(games, root)]
        counts = PlacementCounts()
        for path in paths:
            try:
                problem = json.loads(path.read_text())["pddl_problem"]
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"{path}: not a readable ALFWorld game file ({exc})") from exc
            counts.add_problem(problem)
            if progress is not None:
                progress()
        if counts.games == 0:
            raise DataError("no games to fit the symbolic world model on")
        return cls(counts=counts)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "metaicl_weight": self.metaicl_weight, "seed": self.seed,
                "counts": self.counts.to_dict()}  # fmt: skip

    def save(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

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
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            return cls.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{path}: not a symbolic world model file ({exc}); write one with `implement wm fit`"
            ) from exc

    @classmethod
    def default(cls) -> SymbolicWorldModel:
        """The model fitted on ALFWorld's full train split, shipped with the package."""
        text = (importlib.resources.files("implement.world_model") / DEFAULT_PATH).read_text()
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------ the protocol

    async def perceive(self, prev: SymbolicState, action: str, observation: str) -> SymbolicState:
        return update_state(prev, action, observation)

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
        action = " ".join(action.strip().lower().split())
        target = self._uncertain_target(state, action)
        if target is None:
            return [update_state(state, action, self._feedback(state, action, ()))]
        rng = random.Random(self._seed_of(state, action, conditions, n))
        samples = []
        for _ in range(n):
            names = self._name(state, self.sample_contents(target, conditions, rng))
            predicted = update_state(state, action, self._feedback(state, action, names))
            rec = predicted.receptacle(target)
            if rec.open is False:  # going to a closed one: imagine it opened (contents listed, open false)
                imagined = (*rec.objects, *names)
                predicted = replace(
                    predicted, world_state={**predicted.world_state, target: replace(rec, objects=imagined)}
                )
            samples.append(predicted)
        return samples

    def is_uncertain(self, state: SymbolicState, action: str) -> bool:
        """True when the outcome depends on contents the state does not know (the samples differ)."""
        return self._uncertain_target(state, " ".join(action.strip().lower().split())) is not None

    # ------------------------------------------------------------ beliefs

    def p_contains(self, receptacle: str, object_type: str, conditions: Conditions | None = None) -> float:
        """Predictive probability that `receptacle` (a name or type) initially holds an `object_type`.

        Prior: the share of train receptacles of its type holding at least one such object,
        smoothed towards the share over all receptacle types (so never 0 and a type never
        seen falls back to the overall share). With a MetaICL object list of the receptacle:
        `metaicl_weight * [object_type in list] + (1 - metaicl_weight) * prior`. It is the
        chance that one sample of `predict("go to <receptacle>")` lists such an object,
        and ranks where to search for an object.
        """
        prior = self._p_holds(receptacle_type(receptacle), object_type, smooth=True)
        listed = conditions.object_lists.get(receptacle) if conditions is not None else None
        if listed is None:
            return prior
        hit = 1.0 if object_type in {_type_of_listed(o) for o in listed} else 0.0
        return self.metaicl_weight * hit + (1 - self.metaicl_weight) * prior

    def sample_contents(
        self, receptacle: str, conditions: Conditions | None, rng: random.Random
    ) -> list[str]:
        """Object types of one imagined look into `receptacle` (MetaICL list or the fitted prior)."""
        listed = conditions.object_lists.get(receptacle) if conditions is not None else None
        if listed is not None and rng.random() < self.metaicl_weight:
            return [_type_of_listed(o) for o in listed]
        rtype = receptacle_type(receptacle)
        kinds: list[str] = []
        for otype in self._candidate_types(rtype):
            if rng.random() < self._p_holds(rtype, otype, smooth=False):
                kinds.append(otype)
                mean = self._multiplicity(rtype, otype)
                while rng.random() < (mean - 1) / mean:
                    kinds.append(otype)
        return kinds

    # ------------------------------------------------------------ internals: statistics

    def _candidate_types(self, rtype: str) -> list[str]:
        holders = self.counts.holders
        if rtype in holders and self.counts.receptacles[rtype]:
            return sorted(holders[rtype])
        return sorted({t for h in holders.values() for t in h})

    def _p_holds(self, rtype: str, otype: str, *, smooth: bool) -> float:
        total = sum(self.counts.receptacles.values())
        overall = sum(h.get(otype, 0) for h in self.counts.holders.values()) / total if total else 0.0
        n = self.counts.receptacles.get(rtype, 0)
        c = self.counts.holders.get(rtype, Counter()).get(otype, 0)
        if not smooth:
            return c / n if n else overall
        strength = 0.5
        return (c + strength * max(overall, 1e-4)) / (n + strength)

    def _multiplicity(self, rtype: str, otype: str) -> float:
        held = self.counts.holders.get(rtype, Counter()).get(otype, 0)
        placed = self.counts.objects.get(rtype, Counter()).get(otype, 0)
        return max(1.0, placed / held) if held else 1.0

    def _has(self, prop: str, otype: str) -> bool:
        if prop == "pickupable" and not self.counts.properties:  # an unfitted model is permissive
            return True
        return otype in self.counts.properties.get(prop, set())

    def _can_contain(self, rtype: str, otype: str) -> bool:
        allowed = self.counts.can_contain.get(rtype)
        return True if allowed is None else otype in allowed

    def _seed_of(self, state: SymbolicState, action: str, conditions: Conditions | None, n: int) -> int:
        given = conditions.to_dict() if conditions is not None else None
        if given == Conditions().to_dict():  # no conditions yet draws as none at all
            given = None
        key = json.dumps([self.seed, state.to_dict(), action, given, n])
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")

    # ------------------------------------------------------------ internals: the engine

    def _uncertain_target(self, state: SymbolicState, action: str) -> str | None:
        """The receptacle whose unseen contents decide the outcome, if any.

        An information-gathering action (`is_information_gathering`) on a receptacle of
        the room; opening needs the receptacle within reach and closed, or nothing happens.
        """
        target = action_target(action)
        if target not in state.world_state or not is_information_gathering(state, action):
            return None
        if action.startswith("open ") and (
            target not in self._reachable(state) or state.world_state[target].open is not False
        ):
            return None
        return target

    def _feedback(self, state: SymbolicState, action: str, imagined: tuple[str, ...]) -> str:
        """What ALFWorld's engine would print for `action` (imagined: unseen contents to show)."""
        reachable = self._reachable(state)
        held = state.holding
        if match := _GO_TO.match(action):
            name = match.group("r")
            if name not in state.world_state:
                return "Nothing happens."
            return f"You arrive at {name}. {self._view(state, name, imagined)}"
        if match := _OPEN.match(action):
            name = match.group("r")
            if name not in reachable or state.receptacle(name).open is not False:
                return "Nothing happens."
            contents = self._listing((*state.receptacle(name).objects, *imagined))
            return f"You open the {name}. The {name} is open. In it, you see {contents}."
        if match := _CLOSE.match(action):
            name = match.group("r")
            if name not in reachable or state.receptacle(name).open is not True:
                return "Nothing happens."
            return f"You close the {name}."
        if match := _TAKE.match(action):
            obj, name = match.group("o"), match.group("r")
            rec = state.receptacle(name)
            pickable = obj in _bases(rec.objects) and self._has("pickupable", object_type(obj))
            if name not in reachable or held is not None or rec.open is False or not pickable:
                return "Nothing happens."
            return f"You pick up the {obj} from the {name}."
        if match := _MOVE.match(action):
            obj, name = match.group("o"), match.group("r")
            rec = state.receptacle(name)
            if (name not in reachable or held != obj or rec.open is False or name not in state.world_state
                    or not self._can_contain(receptacle_type(name), object_type(obj))):  # fmt: skip
                return "Nothing happens."
            return f"You move the {obj} to the {name}."
        if match := _TREAT.match(action):
            verb, obj, name = match.group("verb"), match.group("o"), match.group("r")
            rtype, prop = TREATMENTS[verb]
            if (
                name not in reachable
                or receptacle_type(name) != rtype
                or held != obj
                or not self._has(prop, object_type(obj))
            ):
                return "Nothing happens."
            return f"You {verb} the {obj} using the {name}."
        if match := _SLICE.match(action):
            obj, knife = match.group("o"), match.group("k")
            present = obj in self._here(state, closed_too=True)
            if (held != knife or object_type(knife) not in KNIFE_TYPES or not present
                    or not self._has("sliceable", object_type(obj))):  # fmt: skip
                return "Nothing happens."
            return f"You sliced the {obj} with the {knife}."
        if match := _USE.match(action):
            obj = match.group("o")
            if obj not in self._here(state, closed_too=True) or not self._has("toggleable", object_type(obj)):
                return "Nothing happens."
            return f"You turn on the {obj}."
        if match := _EXAMINE.match(action):
            return self._examine(state, match.group("x"))
        if action == "inventory":
            return f"You are carrying: a {held}." if held is not None else "You are not carrying anything."
        if action in ("look", "help"):
            return ""  # the parser keeps the state as it is
        return "Nothing happens."

    def _view(self, state: SymbolicState, name: str, imagined: tuple[str, ...]) -> str:
        rec = state.receptacle(name)
        if rec.open is False:
            return f"The {name} is closed."
        contents = self._listing((*rec.objects, *imagined))
        if rec.open is True:
            return f"The {name} is open. In it, you see {contents}."
        return f"On the {name}, you see {contents}."

    def _reachable(self, state: SymbolicState) -> set[str]:
        """The agent's receptacle and those the fitted layouts put at the same spot."""
        here = state.agent_location
        pairs = self.counts.neighbours(state.world_state)
        return {here} | {r for pair in pairs if here in pair for r in pair}

    def _here(self, state: SymbolicState, *, closed_too: bool = False) -> set[str]:
        """Objects the agent can reach: in or on the receptacles at its spot."""
        found: set[str] = set()
        for name in self._reachable(state):
            rec = state.world_state.get(name)
            if rec is not None and (rec.open is not False or closed_too):
                found |= _bases(rec.objects)
        return found

    def _examine(self, state: SymbolicState, name: str) -> str:
        if name in state.world_state:
            if name not in self._reachable(state):
                return "Nothing happens."
            return self._view(state, name, ())
        if name != state.holding and name not in self._here(state):
            return "Nothing happens."
        otype = object_type(name)
        if self._has("isReceptacleObject", otype):
            return f"This is a normal {name}. In it, you see nothing."  # left unparsed: state unchanged
        known = set(_states_of(state, name))
        words: list[str] = [w for w in ("hot", "cool") if w in known]
        if "clean" in known and words:
            words = [words[0], "and", "clean"]
        elif "clean" in known:
            words = ["clean"]
        if "sliced" in known:
            words.append("sliced")
        if words:
            text = " ".join("cold" if w == "cool" and len(words) == 1 else w for w in words)
            return f"This is a {text} {name}."
        if self._has("toggleable", otype):
            return f"This {name} is {'on' if 'on' in known else 'off'}."
        return f"There's nothing special about {name}."

    def _listing(self, objects: Iterable[str]) -> str:
        """The engine's list of objects: sorted by PDDL id, i.e. by PDDL type name, then number descending."""

        def key(name: str) -> tuple[str, int]:
            match = _INSTANCE.match(name)
            kind, number = (match.group("t"), int(match.group("n"))) if match else (name, 0)
            return self.counts.type_names.get(kind, kind) + "_bar_", -number

        return _listing(sorted((base_name(o) for o in objects), key=key))

    def _name(self, state: SymbolicState, kinds: list[str]) -> tuple[str, ...]:
        """Engine-like names ('apple 2') for sampled object types, with ids unused in `state`."""
        used: dict[str, set[int]] = {}
        entries = [o for r in state.world_state.values() for o in r.objects]
        entries += list(state.unlisted_states) + ([state.inventory] if state.holding else [])
        for entry in entries:
            match = _INSTANCE.match(base_name(entry))
            if match:
                used.setdefault(match.group("t"), set()).add(int(match.group("n")))
        names = []
        for kind in kinds:
            taken = used.setdefault(kind, set())
            number = next(i for i in range(1, len(taken) + 2) if i not in taken)
            taken.add(number)
            names.append(f"{kind} {number}")
        return tuple(names)


def _games(games: str | Iterable[Game | Path | str], root: Path | None) -> list[Game | Path | str]:
    if isinstance(games, str):
        return list(find_games(games, root))
    return list(games)


def _bases(objects: Iterable[str]) -> set[str]:
    return {base_name(o) for o in objects}


def _listing(names: list[str]) -> str:
    if not names:
        return "nothing"
    items = [f"{'an' if n[0] in 'aeiou' else 'a'} {n}" for n in names]
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]}, and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def _type_of_listed(name: str) -> str:
    """A MetaICL list holds object types ('apple') or names ('apple 1'); either gives the type."""
    return object_type(name)


def _states_of(state: SymbolicState, name: str) -> tuple[str, ...]:
    if state.holding == name:
        return object_states(state.inventory)
    for rec in state.world_state.values():
        for entry in rec.objects:
            if base_name(entry) == name:
                return object_states(entry)
    return state.unlisted_states.get(name, ())


__all__ = ["PlacementCounts", "SymbolicWorldModel"]
