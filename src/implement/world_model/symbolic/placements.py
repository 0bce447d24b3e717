"""Placement statistics of ALFWorld's train games, and the model files that carry them.

`fit_placements` counts the initial placements (`inReceptacle` facts), the static facts
(what a receptacle type can contain, which types open, the object properties) and, per
room (identified by its receptacle names), which receptacles share a spot, over the
PDDL problems of a split's game files. `PlacementCounts` answers the questions the
symbolic world model asks of them; `read_model_file` / `write_model_file` read and
write a fitted model's JSON, `packaged_model` the one shipped with the package.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from implement.envs.games import Game, find_games
from implement.errors import DataError

PACKAGED_PATH = "data/symbolic_default.json"  # inside implement.world_model
# Object properties the PDDL problems declare per object; the counts keep the types having each.
PROPERTIES = (
    "pickupable",
    "heatable",
    "coolable",
    "cleanable",
    "sliceable",
    "toggleable",
    "isReceptacleObject",
)

_T = TypeVar("_T")
_ROOM_FACTS = ("objectType", "receptacleType", "inReceptacle", "receptacleAtLocation", "canContain")
_FACTS = "|".join((*_ROOM_FACTS, "openable", *PROPERTIES))
_FACT = re.compile(r"\((" + _FACTS + r") ([^\s()?]+)(?: ([^\s()?]+))?\)")


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
class _Problem:
    """The facts of one PDDL problem, by entity (types are engine types)."""

    otypes: dict[str, str] = field(default_factory=dict)  # object id -> type
    rtypes: dict[str, str] = field(default_factory=dict)  # receptacle id -> type
    placed: list[tuple[str, str]] = field(default_factory=list)  # (object id, receptacle id)
    props: list[tuple[str, str]] = field(default_factory=list)  # (property or openable, entity id)
    spots: dict[str, list[str]] = field(default_factory=dict)  # location -> receptacle ids


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

    # ------------------------------------------------------------ counting

    def add_problem(self, problem: str) -> None:
        """Count one PDDL problem's initial placements and static facts."""
        facts = self._read_facts(problem)
        for fact, entity in facts.props:
            if fact == "openable":
                if entity in facts.rtypes:
                    self.openable.add(facts.rtypes[entity])
            elif entity in facts.otypes:
                self.properties.setdefault(fact, set()).add(facts.otypes[entity])
        contents: dict[str, Counter[str]] = {r: Counter() for r in facts.rtypes}
        for obj, rec in facts.placed:
            if obj in facts.otypes and rec in contents:
                contents[rec][facts.otypes[obj]] += 1
        for rec, held in contents.items():
            rtype = facts.rtypes[rec]
            self.receptacles[rtype] += 1
            self.holders.setdefault(rtype, Counter()).update(held.keys())
            self.objects.setdefault(rtype, Counter()).update(held)
        self._add_layout(engine_names([*facts.otypes, *facts.rtypes]), facts.rtypes, facts.spots)
        self.games += 1

    def _read_facts(self, problem: str) -> _Problem:
        """The problem's facts (type names and `canContain` are counted as they are read)."""
        facts = _Problem()
        for fact, a, b in _FACT.findall(problem):
            if fact == "objectType":
                facts.otypes[a] = _pddl_type(b)
                self.type_names[facts.otypes[a]] = b[:-4] if b.endswith("Type") else b
            elif fact == "receptacleType":
                facts.rtypes[a] = _pddl_type(b)
            elif fact == "inReceptacle":
                facts.placed.append((a, b))
            elif fact == "receptacleAtLocation":
                facts.spots.setdefault(b, []).append(a)
            elif fact == "canContain":
                self.can_contain.setdefault(_pddl_type(a), set()).add(_pddl_type(b))
            else:
                facts.props.append((fact, a))
        return facts

    def _add_layout(self, names: dict[str, str], rtypes: dict[str, str], spots: dict[str, list[str]]) -> None:
        """Count which receptacles of this room share a spot (the agent reaches them all from there)."""
        key = layout_key(names[r] for r in rtypes)
        self.layouts[key] += 1
        shared = self.shared_spots.setdefault(key, Counter())
        for group in spots.values():
            at_spot = sorted(names[r] for r in group if r in rtypes)
            shared.update(f"{a}|{b}" for i, a in enumerate(at_spot) for b in at_spot[i + 1 :])

    # ------------------------------------------------------------ questions

    def neighbours(self, receptacles: Iterable[str]) -> set[frozenset[str]]:
        """Pairs of receptacles sharing a spot in most train problems of this room (none if unseen)."""
        key = layout_key(receptacles)
        seen = self.layouts.get(key, 0)
        pairs = self.shared_spots.get(key, Counter())
        return {frozenset(p.split("|")) for p, c in pairs.items() if 2 * c > seen}

    def candidate_types(self, rtype: str) -> list[str]:
        """The object types found in a receptacle type (every type seen anywhere, if it is unknown)."""
        if rtype in self.holders and self.receptacles[rtype]:
            return sorted(self.holders[rtype])
        return sorted({t for h in self.holders.values() for t in h})

    def p_holds(self, rtype: str, otype: str) -> float:
        """The share of receptacles of `rtype` holding at least one `otype` (the overall share if unknown)."""
        n = self.receptacles.get(rtype, 0)
        if n:
            return self.holders.get(rtype, Counter()).get(otype, 0) / n
        total = sum(self.receptacles.values())
        return sum(h.get(otype, 0) for h in self.holders.values()) / total if total else 0.0

    def multiplicity(self, rtype: str, otype: str) -> float:
        """The mean number of `otype` objects in a receptacle of `rtype` holding any (at least 1)."""
        held = self.holders.get(rtype, Counter()).get(otype, 0)
        placed = self.objects.get(rtype, Counter()).get(otype, 0)
        return max(1.0, placed / held) if held else 1.0

    def has(self, prop: str, otype: str) -> bool:
        """Whether objects of `otype` have `prop` (an unfitted model lets anything be picked up)."""
        if prop == "pickupable" and not self.properties:
            return True
        return otype in self.properties.get(prop, set())

    def can_hold(self, rtype: str, otype: str) -> bool:
        """Whether `otype` may be put in `rtype` (anything, where the problems said nothing)."""
        allowed = self.can_contain.get(rtype)
        return True if allowed is None else otype in allowed

    # ------------------------------------------------------------ JSON

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


def fit_placements(
    games: str | Iterable[Game | Path | str] = "train",
    *,
    root: Path | None = None,
    progress: Callable[[], None] | None = None,
) -> PlacementCounts:
    """Count initial placements over a split's (or the given games') PDDL problems.

    The game files are read as JSON and their `pddl_problem` parsed with regexes (no
    TextWorld); `progress` is called once per game.
    """
    chosen = list(find_games(games, root)) if isinstance(games, str) else list(games)
    counts = PlacementCounts()
    for path in (g.path if isinstance(g, Game) else Path(g) for g in chosen):
        try:
            problem = json.loads(path.read_text())["pddl_problem"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path}: not a readable ALFWorld game file ({exc})") from exc
        counts.add_problem(problem)
        if progress is not None:
            progress()
    if counts.games == 0:
        raise DataError("no games to fit the symbolic world model on")
    return counts


def write_model_file(path: Path | str, data: Mapping[str, Any]) -> None:
    """Write a fitted model's dict as compact JSON (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")


def read_model_file(path: Path | str, parse: Callable[[Mapping[str, Any]], _T]) -> _T:
    """`parse` of a model file's JSON; an unreadable or malformed file is a `DataError`."""
    path = Path(path)
    try:
        return parse(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: not a symbolic world model file ({exc}); write one with `implement wm fit`"
        ) from exc


def packaged_model() -> dict[str, Any]:
    """The JSON of the model fitted on ALFWorld's full train split, shipped with the package."""
    data: dict[str, Any] = json.loads(
        (importlib.resources.files("implement.world_model") / PACKAGED_PATH).read_text()
    )
    return data


__all__ = [
    "PROPERTIES",
    "PlacementCounts",
    "engine_names",
    "fit_placements",
    "layout_key",
    "packaged_model",
    "read_model_file",
    "write_model_file",
]
