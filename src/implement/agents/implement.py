"""`ImplementAgent`: model-based online policy iteration (the paper's method).

Per step: perceive the observation into the symbolic state (world model, `[PER]`);
then up to `max_rounds` rounds in which the policy proposes actions, the world model
imagines each new one (`[PRE]`, `mc_samples` Monte Carlo samples when it gathers
information, with this task's MetaICL conditions), a belief summary is made of the
samples, and the policy either picks an evaluated action or proposes more. In the last
round it must pick; with `final_call` (the paper's code) the `max_rounds` rounds may all
imagine, and one more call, shown everything imagined, must pick. A reply that picks
nothing usable falls back to the policy's first evaluated proposal, recorded in the step's
details.

Ablations: `imagination=False` (the policy chooses from the perceived state alone, one
round) and `metaicl=False` (no conditions, nothing remembered across trials). Beyond the
paper, `rollout_depth > 0` looks further: every imagined outcome is rolled that many
steps on with the planner and its goal progress joins the belief (`implement.agents.rollout`)
for the policy to weigh; the planner itself keeps its sub-goal order, which rollouts follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from implement.agents.base import Decision, EpisodeOutcome, TaskMemory, metered
from implement.agents.belief import Belief, exact_belief
from implement.agents.goals import Goal, parse_goal
from implement.agents.policy import Policy, PolicyReply, PolicyView
from implement.agents.rollout import lookahead
from implement.envs.base import Observation, Task
from implement.errors import AgentError, ConfigError
from implement.metaicl import Conditions, Step, conditions_from_memory, remember_trajectory
from implement.state import SymbolicState
from implement.world_model.base import Perceived, WorldModel
from implement.world_model.perception import initial_state

Summarizer = Callable[[SymbolicState, str, list[SymbolicState]], Awaitable[Belief]]


async def exact_summarizer(state: SymbolicState, action: str, samples: list[SymbolicState]) -> Belief:
    return exact_belief(state, action, samples)


class ImplementAgent:
    """See the module docstring. A `StatelessAgent`: the API server `restore`s it and has it `choose`."""

    def __init__(
        self,
        policy: Policy,
        world_model: WorldModel,
        *,
        summarizer: Summarizer = exact_summarizer,
        mc_samples: int = 10,
        max_rounds: int = 5,
        final_call: bool = False,
        max_proposals: int = 8,
        imagination: bool = True,
        metaicl: bool = True,
        rollout_depth: int = 0,
        name: str = "implement",
    ) -> None:
        if max_rounds < 1 or rollout_depth < 0:
            raise ConfigError(
                f"need max_rounds >= 1 and rollout_depth >= 0, got {max_rounds}, {rollout_depth}"
            )
        if imagination and max_rounds == 1 and not final_call:
            raise ConfigError(
                "policy.max_interaction_rounds = 1 leaves no round to choose an imagined action: "
                "set it to 2 or more, or final_call = true, or imagination = false"
            )
        self.policy = policy
        self.world_model = world_model
        self.summarizer = summarizer
        self.mc_samples = mc_samples
        self.max_rounds = max_rounds
        self.final_call = final_call
        self.max_proposals = max_proposals
        self.imagination = imagination
        self.metaicl = metaicl
        self.rollout_depth = rollout_depth
        self.name = name
        self._task: Task | None = None
        self._memory: TaskMemory | None = None
        self._conditions: Conditions | None = None
        self._state = SymbolicState()
        self._history: list[tuple[str, bool]] = []
        self._trajectory: list[Step] = []
        self._last_action: str | None = None
        self._goal: Goal | None = None

    def reset(self, task: Task, memory: TaskMemory) -> None:
        self._task, self._memory = task, memory
        self._conditions = conditions_from_memory(memory.data) if self.metaicl else None
        self._goal = parse_goal(task.goal) if self.rollout_depth > 0 else None
        self._history, self._trajectory, self._last_action = [], [], None
        self.policy.reset(task.goal, task.task_type)

    async def act(self, observation: Observation) -> Decision:
        if self._task is None:
            raise AgentError("act() before reset()")
        return await metered(self._step(observation))

    def restore(self, state: SymbolicState, history: Sequence[tuple[str, bool]]) -> None:
        """Continue an episode from a state perceived elsewhere (the stateless API server does)."""
        if self._task is None:
            raise AgentError("restore() before reset()")
        self._state, self._history = state, list(history)
        self._last_action = history[-1][0] if history else None

    async def choose(self, admissible: Sequence[str]) -> Decision:
        """One step's decision from the current state, without perceiving first."""
        if self._task is None:
            raise AgentError("choose() before reset()")
        return await metered(self._choose(tuple(admissible)))

    async def _step(self, observation: Observation) -> Decision:
        await self._perceive(observation)
        return await self._choose(observation.admissible_commands)

    async def _choose(self, admissible: tuple[str, ...]) -> Decision:
        assert self._task is not None
        rounds: list[dict[str, Any]] = []
        evaluated: dict[str, Belief] = {}
        reply = PolicyReply()
        action: str | None = None
        last = (self.max_rounds + self.final_call) if self.imagination else 1
        for number in range(1, last + 1):
            final = number == last
            view = PolicyView(
                goal=self._task.goal,
                task_type=self._task.task_type,
                state=self._state,
                history=list(self._history),
                admissible=admissible,
                evaluated=dict(evaluated),
                round=number,
                final=final,
                imagination=self.imagination,
            )
            reply = await self.policy.decide(view)
            record: dict[str, Any] = {"round": number, "reply": reply.to_dict()}
            rounds.append(record)
            if reply.choice is not None and (reply.choice in evaluated or not self.imagination):
                action = reply.choice
                break
            new = [a for a in dict.fromkeys(reply.proposals) if a not in evaluated][: self.max_proposals]
            if final or not new:
                break
            beliefs = await asyncio.gather(*(self._imagine(a) for a in new))
            evaluated.update(zip(new, beliefs, strict=True))
            record["imagined"] = [b.to_dict() for b in beliefs]
        fallback = None
        if action is None:
            action, fallback = self._fallback(reply, evaluated, admissible)
        self._last_action = action
        details = {"state": self._state.to_dict(), "rounds": rounds, "fallback": fallback}
        usage = {"rounds": float(len(rounds)), "imagined": float(len(evaluated))}
        return Decision(action, reasoning=reply.reasoning, details=details, usage=usage)

    def finish(self, outcome: EpisodeOutcome) -> None:
        if self.metaicl and self._memory is not None:
            remember_trajectory(self._memory.data, self._trajectory)

    # ------------------------------------------------------------ internals

    async def _perceive(self, observation: Observation) -> None:
        if self._last_action is None:
            self._state = initial_state(observation.text)
            return
        before, executed = self._state, observation.action or self._last_action
        seen = Perceived(executed, observation.text, succeeded=observation.succeeded)
        self._state = await self.world_model.perceive(before, seen)
        self._history.append((executed, observation.succeeded))
        self._trajectory.append((before, executed, observation.succeeded, self._state))

    async def _imagine(self, action: str) -> Belief:
        samples = await self.world_model.predict(self._state, action, self._conditions, n=self.mc_samples)
        belief = await self.summarizer(self._state, action, samples)
        if self._goal is not None and samples:
            depth, goal, conditions = self.rollout_depth, self._goal, self._conditions
            ahead = [await lookahead(self.world_model, goal, s, depth, conditions) for s in samples]
            belief.lookahead = round(sum(ahead) / len(ahead), 3)
            belief.text += f" Looking {depth} steps further: goal progress {belief.lookahead:.2f}."
        return belief

    @staticmethod
    def _fallback(
        reply: PolicyReply, evaluated: dict[str, Belief], admissible: tuple[str, ...]
    ) -> tuple[str, str]:
        """The first evaluated proposal predicted to change something, else the first evaluated one."""
        if reply.choice is not None:
            why = f"choice {reply.choice!r} was never imagined"
        else:
            why = "no choice in the last round"
        for action, belief in evaluated.items():
            if belief.p_changes > 0:
                return action, f"{why}; first evaluated action predicted to work"
        if evaluated:
            return next(iter(evaluated)), f"{why}; first evaluated action"
        first = (admissible or ("look",))[0]
        return first, f"{why}; nothing evaluated: first admissible"


__all__ = ["ImplementAgent", "Summarizer", "exact_summarizer"]
