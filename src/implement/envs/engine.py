"""TextWorld's PDDL engine with cheap resets.

TextWorld's `PddlEnv` parses the game's grammar and translates its PDDL problem to
SAS (fast-downward's `pddl2sas`, twice: once for play, once for re-planning) on every
load and every reset, then derives the intro and every admissible command through its
grammar. All of that depends only on the game file. Here a game is loaded once, the
grammar (the same for every ALFWorld game but its task sentence) is parsed once per
process, the translation is cached in memory and on disk, and a reset copies the initial facts and
the initial game state and re-loads the cached SAS into the engine's own copy of the
planner library. The re-planning translation is skipped: nothing here asks for plans.

Steps pay for grammar derivation too: after each action TextWorld derives the text of
every admissible command from its template, parsing the template again each time. A
command's text depends only on its template and its arguments (ALFWorld's receptacles
never move), so `_CommandMemo` derives each (template, arguments) once per game.
Feedback text depends on the state and is always derived.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import re
import sys
import tempfile
import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fast_downward
import textworld
import textworld.logic
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
from fast_downward.translate import pddl as fd_pddl
from textworld.core import EnvInfos, GameState
from textworld.envs.pddl import PddlEnv
from textworld.envs.pddl import logic as pddl_logic
from textworld.envs.pddl.textgen import ContextSensitiveGrammar

from implement.config import cache_root
from implement.errors import DataError

logger = logging.getLogger(__name__)

# fast-downward's translator keeps global options and swaps sys.stdout, and TextWorld's
# grammar parsers (TatSu) are stateful module globals used by every load, reset and step.
# All engine work in a process is serialized by this lock (engines in threads then take
# turns; the GIL allows no more anyway), so environments in threads never corrupt each other.
ENGINE_LOCK = threading.RLock()
_FORMAT = "1"


@dataclass(frozen=True)
class Translation:
    """What one PDDL problem becomes once: fast-downward's task and its SAS text."""

    task: Any
    sas: str

    @property
    def name_to_type(self) -> dict[str, str]:
        return {o.name: o.type_name for o in self.task.objects}


def default_cache_dir() -> Path:
    """Where translations are kept on disk (`$IMPLEMENT_CACHE_DIR`, else ~/.cache/implement)."""
    return cache_root() / "sas"


class TranslationCache:
    """Memory and disk cache of `pddl2sas` results, keyed by the domain and problem text."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._memory: dict[str, Translation] = {}
        self.hits = {"memory": 0, "disk": 0, "translated": 0}

    def get(self, domain: str, problem: str) -> Translation:
        version = importlib.metadata.version("fast_downward_textworld")
        key = hashlib.sha256(f"{_FORMAT}\0{version}\0{domain}\0{problem}".encode()).hexdigest()
        if key in self._memory:
            self.hits["memory"] += 1
            return self._memory[key]
        translation = self._read(key)
        if translation is None:
            with ENGINE_LOCK:
                argv = sys.argv[:]  # the translator overwrites sys.argv
                try:
                    task, sas = fast_downward.pddl2sas(domain, problem)
                finally:
                    sys.argv[:] = argv
            translation = Translation(task, sas)
            self._write(key, translation)
            self.hits["translated"] += 1
        else:
            self.hits["disk"] += 1
        self._memory[key] = translation
        return translation

    def _path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / key[:2] / f"{key}.pkl.z"

    def _read(self, key: str) -> Translation | None:
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            task, sas = pickle.loads(zlib.decompress(path.read_bytes()))
        except Exception as exc:  # a torn or stale file: translate again and overwrite it
            logger.warning("ignoring unreadable translation cache file %s: %s", path, exc)
            return None
        return Translation(task, sas)

    def _write(self, key: str, translation: Translation) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = zlib.compress(pickle.dumps((translation.task, translation.sas)), 6)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)


class _CachedPddlState(pddl_logic.PddlState):
    """A `PddlState` built from a cached translation instead of translating again."""

    def __init__(self, downward_lib: Any, logic: Any, translation: Translation, init_facts: list) -> None:
        textworld.logic.State.__init__(self, textworld.logic.GameLogic())
        self._logic = logic
        self.downward_lib = downward_lib
        self.task, self.sas = translation.task, translation.sas
        self._actions = {a.name: a for a in self.task.actions}
        self.name2type = translation.name_to_type
        self.downward_lib.load_sas(self.sas.encode("utf-8"))
        self.add_facts(init_facts)
        atoms = (pddl_logic.Atom * self.downward_lib.get_state_size())()
        self.downward_lib.get_state(atoms)
        dynamic = (atom.get_fact(self.name2type) for atom in atoms)
        self.add_facts([fact for fact in dynamic if not fact.is_negation])

    def clone(self) -> _CachedPddlState:
        """This state's copy (facts copied, translation shared), loaded into the planner library."""
        other: _CachedPddlState = copy.copy(self)
        other._facts = defaultdict(set, {k: set(v) for k, v in self._facts.items()})
        other._vars_by_name = dict(self._vars_by_name)
        other._vars_by_type = defaultdict(set, {k: set(v) for k, v in self._vars_by_type.items()})
        other._var_counts = self._var_counts.copy()
        self.downward_lib.load_sas(self.sas.encode("utf-8"))
        return other

    def replan(self, infos: Any) -> list[str]:
        raise NotImplementedError("this engine skips the re-planning translation; use the game's walkthrough")


def _static_facts(translation: Translation, logic: Any) -> list[textworld.logic.Proposition]:
    """The problem's initial facts as propositions (distances and `=` left out, as TextWorld does)."""
    name_to_type = translation.name_to_type
    for type_ in translation.task.types:
        with contextlib.suppress(ValueError):  # already known
            logic.types.add(textworld.logic.Type(type_.name, type_.supertype_names))

    def variables(args: Any) -> list[textworld.logic.Variable]:
        return [textworld.logic.Variable(arg, name_to_type[arg]) for arg in args]

    facts = []
    for atom in translation.task.init:
        if isinstance(atom, fd_pddl.conditions.Atom) and atom.predicate != "=":
            facts.append(textworld.logic.Proposition(atom.predicate, variables(atom.args)))
        elif isinstance(atom, fd_pddl.f_expression.Assign) and atom.fluent.symbol != "total-cost":
            name = str(atom.expression.value)
            if not name.isdigit():
                facts.append(textworld.logic.Proposition(name, variables(atom.fluent.args)))
    return facts


class _CommandMemo:
    """Wraps a game's grammar: command templates are derived once per argument binding."""

    def __init__(self, grammar: Any, templates: set[str]) -> None:
        self._grammar = grammar
        self._templates = templates
        self._derived: dict[tuple[str, frozenset[tuple[str, str]]], str] = {}

    def derive(self, start: str, context: dict[str, Any]) -> str:
        if start not in self._templates:
            return str(self._grammar.derive(start, context))
        key = (start, frozenset((ph.name, var.name) for ph, var in context["mapping"].items()))
        if key not in self._derived:
            self._derived[key] = self._grammar.derive(start, context)
        return self._derived[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grammar, name)


# The task sentence is the one line in which the grammars of ALFWorld's games differ.
_TASK_RULE = re.compile(r'("task":\s*\[\s*\{\s*"rhs":\s*")((?:[^"\\]|\\.)*)(")')
_LOGICS: dict[str, pddl_logic.GameLogic] = {}


def game_logic(domain: str, grammar: str) -> pddl_logic.GameLogic:
    """TextWorld's `GameLogic` of a game, its grammar parsed once per process for all games.

    The grammar is parsed with the task sentence taken out (cached), and the game's own
    sentence is parsed alone into a copy: a fraction of the ~0.3 s a full parse costs.
    """
    match = _TASK_RULE.search(grammar)
    if match is None:
        with ENGINE_LOCK:
            return pddl_logic.GameLogic(domain=domain, grammar=grammar)
    template = grammar[: match.start(2)] + grammar[match.end(2) :]
    key = hashlib.sha256(f"{domain}\0{template}".encode()).hexdigest()
    with ENGINE_LOCK:
        shared = _LOGICS.get(key)
        if shared is None:
            shared = _LOGICS[key] = pddl_logic.GameLogic(domain=domain, grammar=template)
        task = ContextSensitiveGrammar.parse(
            json.dumps({"task": [{"rhs": json.loads(f'"{match.group(2)}"')}]})
        )
    logic = copy.copy(shared)
    logic.grammar = ContextSensitiveGrammar()
    logic.grammar._rules = defaultdict(
        list, {k: list(v) for k, v in shared.grammar._rules.items()} | {"task": task._rules["task"]}
    )
    return logic


class CachedPddlEnv(PddlEnv):
    """TextWorld's PDDL environment that loads a game once and resets from cached SAS."""

    def __init__(self, infos: EnvInfos, translations: TranslationCache) -> None:
        super().__init__(infos)
        self._translations = translations
        self._game_file: str | None = None

    def load(self, path: str) -> None:
        if path == self._game_file:
            return
        try:
            data = json.loads(Path(path).read_text())
            domain, grammar, problem = data["pddl_domain"], data["grammar"], data["pddl_problem"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"cannot read ALFWorld game file {path}: {exc}") from exc
        translation = self._translations.get(domain, problem)
        self._logic = game_logic(domain, grammar)
        templates = {action.template for action in self._logic.actions.values()}
        self._logic.grammar = _CommandMemo(self._logic.grammar, templates)
        initial = _CachedPddlState(
            self.downward_lib, self._logic, translation, _static_facts(translation, self._logic)
        )
        self._game_data = data
        self._game_file = path
        self.walkthrough = data.get("walkthrough")
        self._pddl_state = initial.clone()
        self._entity_infos = self._get_entity_infos()
        self._initial_state = initial
        self._initial_game_state: GameState | None = None  # derived at the first reset

    def reset(self) -> GameState:
        if self._game_file is None:
            raise RuntimeError("load a game before reset")
        self._pddl_state = self._initial_state.clone()
        self.prev_state = None
        self._last_action = None
        self._moves = 0
        if self._initial_game_state is None:
            self.state = GameState()
            context = {
                "state": self._pddl_state,
                "facts": list(self._pddl_state.facts),
                "variables": {},
                "mapping": {},
                "entity_infos": self._entity_infos,
            }
            self.state.feedback = self.state.raw = self._logic.grammar.derive("#intro#", context)
            self._gather_infos()
            self._initial_state._operators = self._pddl_state._operators
            self._initial_game_state = GameState(self.state)
        self.state = GameState(self._initial_game_state)
        return self.state


def make_engine(translations: TranslationCache, *, facts: bool = False) -> textworld.core.Environment:
    """The engine stack ALFWorld uses (demangled names), on the cached PDDL environment."""
    infos = EnvInfos(admissible_commands=True, won=True, facts=facts)
    return AlfredDemangler(CachedPddlEnv(infos, translations))
