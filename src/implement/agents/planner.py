"""`planner`: the LLM-free policy. It parses the goal and works through its sub-goals.

Each step it lists candidate commands from the admissible list for the first unmet
sub-goal: take a goal object it can reach (listed in the state, or among the admissible
takes), go to one it has seen, treat it at the appliance (heat / cool / clean), put it in
the target receptacle (opening it first), turn on the lamp while holding it. When it knows
of no goal object, it searches: every receptacle not yet seen inside is a candidate (one
of each type first), and the world model's beliefs decide, as the expected finds per step
(the belief's share of samples showing the object, halved when the receptacle must still
be opened).

In policy iteration it proposes candidates (up to `max_proposals` per round, in its
own order) until all are imagined or the last round comes, then picks the best: the
highest expected finds for a search, else the first candidate the world model
predicts to change the state. Actions that already failed in this episode come last.
Arrived at a closed receptacle it came to search, it opens it. A receptacle it opened, or
arrived at with no `open` among the admissible commands, counts as seen inside whatever the
state says: a world model that perceives it as closed does not send the agent back to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from implement.agents.belief import Belief
from implement.agents.goals import Goal, parse_goal
from implement.agents.policy import PolicyReply, PolicyView
from implement.envs.commands import Command, Verb, format_command, parse_command
from implement.state import SymbolicState, base_name, object_states, object_type, receptacle_type


@dataclass(frozen=True)
class Candidate:
    action: str
    sought: str | None = None  # the object type a search hopes to see
    receptacle: str | None = None  # where it looks
    cost: int = 1  # steps until the inside is seen


class PlannerPolicy:
    """See the module docstring."""

    name = "planner"

    def __init__(self, max_proposals: int = 8) -> None:
        self.max_proposals = max_proposals
        self.goal: Goal | None = None
        self.looked_into: set[str] = set()  # receptacles this episode has seen inside

    def reset(self, goal: str, task_type: str) -> None:
        self.goal = parse_goal(goal)
        self.looked_into = set()

    async def decide(self, view: PolicyView) -> PolicyReply:
        if self.goal is None:
            raise RuntimeError("decide() before reset()")
        failed = {a for a, ok in view.history if not ok}
        self.looked_into.update(_looked_into(view.history, view.admissible))
        found = self.candidates(self.goal, view.state, view.admissible, frozenset(self.looked_into))
        candidates = sorted(found, key=lambda c: c.action in failed)
        if not candidates:
            candidates = [Candidate("look")]
        if not view.imagination:
            first = candidates[0]
            return PolicyReply(choice=first.action, reasoning=f"first sub-goal candidate ({_kind(first)})")
        pending = [c.action for c in candidates if c.action not in view.evaluated]
        if pending and not view.final:
            return PolicyReply(
                proposals=pending[: self.max_proposals], reasoning="imagine the candidates first"
            )
        return self._choose(candidates, view.evaluated)

    # ------------------------------------------------------------ choosing

    def _choose(self, candidates: list[Candidate], evaluated: dict[str, Belief]) -> PolicyReply:
        scored = [c for c in candidates if c.action in evaluated]
        if not scored:
            return PolicyReply(
                choice=next(iter(evaluated), candidates[0].action), reasoning="no candidate imagined"
            )
        searches = [c for c in scored if c.sought is not None]
        if searches:
            best = max(searches, key=lambda c: _expected_finds(c, evaluated[c.action]))
            value = _expected_finds(best, evaluated[best.action])
            return PolicyReply(
                choice=best.action, reasoning=f"search for {best.sought}: {value:.2f} expected finds per step"
            )
        for c in scored:  # its own sub-goal order (what multi-step lookaheads follow too) decides
            if evaluated[c.action].p_changes > 0:
                return PolicyReply(choice=c.action, reasoning=f"{_kind(c)}; predicted to work")
        return PolicyReply(choice=scored[0].action, reasoning="every candidate is predicted to fail")

    # ------------------------------------------------------------ sub-goals

    def candidates(
        self,
        goal: Goal,
        state: SymbolicState,
        admissible: tuple[str, ...],
        opened: frozenset[str] = frozenset(),
    ) -> list[Candidate]:
        """Admissible commands for the first unmet sub-goal, best first (`opened`: seen inside)."""
        return _Step(goal, state, set(admissible), opened).candidates()


def plan_step(goal: Goal, state: SymbolicState, commands: tuple[str, ...]) -> str | None:
    """The planner's first candidate among `commands` (no beliefs): the rollout policy."""
    candidates = _Step(goal, state, set(commands), frozenset()).candidates()
    return candidates[0].action if candidates else None


@dataclass(frozen=True)
class _Step:
    """One step's situation; its methods list the candidates of each sub-goal."""

    goal: Goal
    state: SymbolicState
    allowed: set[str]
    opened: frozenset[str]

    def candidates(self) -> list[Candidate]:
        goal, state, held = self.goal, self.state, self.state.holding
        if held is not None and object_type(held) != goal.object_type:
            return [Candidate(a) for a in self.allowed_on("move", lambda o: o == held)][:1]
        if held is None:
            return self.get(goal.object_type)
        if goal.count == 0:  # look at the object under a lamp
            return self.use_lamp(goal.lamp_type or "")
        needed = goal.required_state
        if needed is not None and needed not in object_states(state.inventory):
            return self.treat(held)
        return self.place(held)

    def get(self, kind: str) -> list[Candidate]:
        """Take a reachable object of `kind`, go to a seen one, or search for one."""
        skip = self.target() if self.goal.count > 1 else None  # objects there already count
        takes, visits = [], []
        for name, rec in self.state.world_state.items():
            if name == skip:
                continue
            for obj in (base_name(o) for o in rec.objects if object_type(o) == kind):
                if _text("take", obj, name) in self.allowed:
                    takes.append(Candidate(_text("take", obj, name)))
                elif rec.open is False and _text("open", receptacle=name) in self.allowed:
                    visits.append(Candidate(_text("open", receptacle=name)))
                elif _text("go to", receptacle=name) in self.allowed:
                    visits.append(Candidate(_text("go to", receptacle=name)))
        listed = {c.action for c in takes}  # the admissible takes too: the state may miss an object
        for text in self.allowed_on("take", lambda o: object_type(o) == kind):
            if text not in listed and (skip is None or not text.endswith(f" from {skip}")):
                takes.append(Candidate(text))
        return takes + visits or self.search(kind, skip)

    def search(self, kind: str, skip: str | None = None) -> list[Candidate]:
        """Every receptacle not seen inside yet, as a search for `kind`: one of each receptacle
        type first, then a second of each, and so on (receptacles of one type are alike before
        they are seen, so the first proposals span the types the world model can tell apart).

        Arrived at a closed one to search it, the planner opens it: going there was worth
        two steps for what opening now gives in one.
        """
        found = []
        for name, rec in self.state.world_state.items():
            seen = (rec.visited and (rec.open is not False or bool(rec.objects))) or name in self.opened
            if name == skip or seen:
                continue
            opening, going = _text("open", receptacle=name), _text("go to", receptacle=name)
            if opening in self.allowed:
                if name == self.state.agent_location:
                    return [Candidate(opening, kind, name, 1)]
                found.append(Candidate(opening, kind, name, 1))
            elif going in self.allowed:
                found.append(Candidate(going, kind, name, 2 if rec.open is False else 1))
        return _across_types(found)

    def treat(self, held: str) -> list[Candidate]:
        verb = self.goal.treatment
        treat = [Candidate(a) for a in self.allowed_on(verb, lambda o: o == held)] if verb else []
        appliances = [n for n in self.state.world_state if receptacle_type(n) == self.goal.appliance_type]
        goes = [_text("go to", receptacle=n) for n in appliances]
        return treat or [Candidate(a) for a in goes if a in self.allowed]

    def place(self, held: str) -> list[Candidate]:
        target = self.target()
        names = [target] if target is not None else []
        names += [
            n
            for n in self.state.world_state
            if receptacle_type(n) == self.goal.receptacle_type and n != target
        ]
        here, there = [], []
        for name in names:
            moving, opening = _text("move", held, name), _text("open", receptacle=name)
            if moving in self.allowed:
                here.append(Candidate(moving))
            elif opening in self.allowed and self.state.receptacle(name).open is False:
                here.append(Candidate(opening))
            elif _text("go to", receptacle=name) in self.allowed:
                there.append(Candidate(_text("go to", receptacle=name)))
        return here + there

    def use_lamp(self, lamp: str) -> list[Candidate]:
        uses = [Candidate(a) for a in self.allowed_on("use", lambda o: object_type(o) == lamp)]
        visits = [
            Candidate(_text("go to", receptacle=name))
            for name, rec in self.state.world_state.items()
            if any(object_type(o) == lamp for o in rec.objects)
            and _text("go to", receptacle=name) in self.allowed
        ]
        return uses or visits or self.search(lamp)

    def allowed_on(self, verb: Verb, accept: Callable[[str], bool]) -> list[str]:
        """The allowed commands of `verb` whose object `accept` takes, in text order."""
        found = []
        for text in sorted(self.allowed):
            command = parse_command(text)
            if command is not None and command.verb == verb and accept(command.object or ""):
                found.append(text)
        return found

    def target(self) -> str | None:
        """The target receptacle already holding goal objects (pick two), else the first of its type."""
        names = [n for n in self.state.world_state if receptacle_type(n) == self.goal.receptacle_type]
        kind = self.goal.object_type
        holding = [n for n in names if any(object_type(o) == kind for o in self.state.receptacle(n).objects)]
        return next(iter(holding or names), None)


def _text(verb: Verb, obj: str | None = None, receptacle: str | None = None) -> str:
    return format_command(Command(verb, obj, receptacle))


def _looked_into(history: list[tuple[str, bool]], admissible: tuple[str, ...]) -> Iterator[str]:
    """The receptacles `history` opened, and the one its last action went to if it needs no
    opening there (no `open` among the `admissible` commands)."""
    for action, ok in history:
        command = parse_command(action)
        if ok and command is not None and command.verb == "open" and command.receptacle is not None:
            yield command.receptacle
    last = parse_command(history[-1][0]) if history and history[-1][1] else None
    arrived = last.receptacle if last is not None and last.verb == "go to" else None
    if arrived is not None and _text("open", receptacle=arrived) not in admissible:
        yield arrived


def _across_types(candidates: list[Candidate]) -> list[Candidate]:
    """`candidates` taken one of each receptacle type at a time, each type in its own order."""
    rank: dict[str, int] = {}
    ranked = []
    for candidate in candidates:
        kind = receptacle_type(candidate.receptacle or "")
        rank[kind] = rank.get(kind, -1) + 1
        ranked.append((rank[kind], candidate))
    return [candidate for _, candidate in sorted(ranked, key=lambda pair: pair[0])]


def _expected_finds(candidate: Candidate, belief: Belief) -> float:
    assert candidate.sought is not None and candidate.receptacle is not None
    return belief.p_shows(candidate.receptacle, candidate.sought) / candidate.cost


def _kind(candidate: Candidate) -> str:
    return f"search {candidate.receptacle} for {candidate.sought}" if candidate.sought else candidate.action


__all__ = ["Candidate", "PlannerPolicy", "plan_step"]
