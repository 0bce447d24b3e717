"""Prompt tokens of the LLM policy per request and per step: the JSON-state prompt vs the compact one.

Real episodes give real rounds: the LLM-free planner plays seeded valid_seen games through
`ImplementAgent` (symbolic world model, the default rounds, proposals and samples), and a
recording policy keeps every `PolicyView` it is shown. Each view is rendered twice: by the
policy prompt of commit `BASELINE` (read with `git show`, the state as the paper's JSON) and
by today's `implement.prompts.policy`. Both are rendered with the GGUF's own chat template
and counted with the SmolLM2-135M tokenizer (`vocab_only`: no weights are loaded).

Reported per variant: prompt tokens per request and per environment step (all rounds of the
step), and the shared-prefix share: for consecutive requests of one episode, the longest common
token prefix over the later prompt's length (what llama.cpp's prefix reuse skips), summed over
requests. "OpenAI-cacheable" counts that prefix only where OpenAI's automatic cache would
(>= 1024 identical tokens, then in steps of 128). Without valid_seen installed (`--data-root`,
else `$ALFWORLD_DATA` or ~/.cache/alfworld), `--archives` unpacks it into a temp folder; with
neither, the built test games are played (and the table says so).

    python bench/prompt_tokens.py [--games 10] [--seed 0] [--steps 30] [--archives ../shared/alfworld]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from implement.agents.base import EpisodeOutcome, TaskMemory
from implement.agents.implement import ImplementAgent
from implement.agents.planner import PlannerPolicy
from implement.agents.policy import PolicyReply, PolicyView
from implement.config import Config
from implement.envs.alfworld import AlfworldEnv
from implement.envs.games import DATA_VERSION, Game, find_games, install, sample_games
from implement.errors import DataError
from implement.llm.base import Message
from implement.llm.local import embedded_model_path
from implement.prompts import policy
from implement.world_model.symbolic import SymbolicWorldModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the built games, where no ALFWorld data is installed
BASELINE = "fa74515"  # the last commit with the JSON-state policy prompt ("policy-1")
OPENAI_MIN_PREFIX, OPENAI_STEP = 1024, 128

Render = Callable[[PolicyView, int], list[Message]]


class RecordingPolicy:
    """The planner, keeping each view it is shown with its step number."""

    def __init__(self, inner: PlannerPolicy) -> None:
        self.inner, self.name = inner, inner.name
        self.views: list[tuple[int, PolicyView]] = []

    def reset(self, goal: str, task_type: str) -> None:
        self.inner.reset(goal, task_type)

    async def decide(self, view: PolicyView) -> PolicyReply:
        self.views.append((len(view.history), view))
        return await self.inner.decide(view)


def baseline_module() -> ModuleType:
    """The policy prompt module as it was at `BASELINE`, imported from a temp file."""
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:src/implement/prompts/policy.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="prompt-baseline-") as tmp:
        path = Path(tmp) / "baseline_policy_prompt.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("baseline_policy_prompt", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def pick_games(args: argparse.Namespace, work: Path) -> tuple[list[Game], str]:
    """The games to play and where they come from."""
    root = Path(args.data_root) if args.data_root else None
    try:
        games = find_games("valid_seen", root)
        where = "valid_seen"
    except DataError:
        if args.archives and Path(args.archives, "valid_seen.tar.xz").is_file():
            install(["valid_seen"], Path(args.archives), work / "alfworld")
            games, where = find_games("valid_seen", work / "alfworld"), "valid_seen (unpacked)"
        else:
            from alfgames import standard_games

            standard_games(work / "alfworld" / DATA_VERSION / "built")
            games, where = find_games("built", work / "alfworld"), "built test games (no valid_seen)"
    return sample_games(games, args.games, args.seed, setting="--games"), where


async def play(game: Game, env: AlfworldEnv, config: Config) -> list[tuple[int, PolicyView]]:
    """One episode of the planner through ImplementAgent; the views of every round."""
    recorder = RecordingPolicy(PlannerPolicy(max_proposals=config.policy.max_proposals))
    agent = ImplementAgent(
        recorder,
        SymbolicWorldModel.default(),
        mc_samples=config.world_model.mc_samples,
        max_rounds=config.policy.max_interaction_rounds,
        max_proposals=config.policy.max_proposals,
    )
    task, observation = env.reset(game)
    agent.reset(task, TaskMemory(game.id))
    actions: list[str] = []
    while not observation.done:
        decision = await agent.act(observation)
        observation = env.step(decision.action)
        actions.append(decision.action)
    agent.finish(EpisodeOutcome(observation.won, observation.step, tuple(actions), ()))
    return recorder.views


class Tokenizer:
    """Chat messages -> tokens, with the GGUF's chat template and vocabulary."""

    def __init__(self, name: str = "smollm2-135m") -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = str(embedded_model_path(name))
        self.llama = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise SystemExit(f"{name} has no chat template in its GGUF metadata")
        eos = self.llama.detokenize([self.llama.token_eos()], special=True).decode()
        bos = self.llama.detokenize([self.llama.token_bos()], special=True).decode()
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def __call__(self, messages: list[Message]) -> list[int]:
        prompt = self.formatter(messages=cast(Any, messages)).prompt
        return self.llama.tokenize(prompt.encode(), add_bos=False, special=True)


@dataclass
class Pairs:
    """Consecutive requests of one episode: how much of the later prompt the earlier one shares."""

    count: int = 0
    tokens: int = 0  # prompt tokens of the later request of each pair
    shared: int = 0  # longest common token prefix, summed
    openai_cached: int = 0  # the part of it OpenAI's automatic cache would reuse

    def add(self, before: list[int], after: list[int]) -> None:
        common = common_prefix(before, after)
        self.count, self.tokens, self.shared = self.count + 1, self.tokens + len(after), self.shared + common
        if common >= OPENAI_MIN_PREFIX:
            self.openai_cached += common - (common - OPENAI_MIN_PREFIX) % OPENAI_STEP


@dataclass
class Tally:
    """One prompt variant's counts over all episodes."""

    requests: int = 0
    steps: int = 0
    tokens: int = 0
    system_tokens: set[int] = field(default_factory=set)
    rounds: Pairs = field(default_factory=Pairs)  # the next round of the same step
    steps_on: Pairs = field(default_factory=Pairs)  # the first round of the next step

    def add_episode(self, prompts: list[tuple[int, list[int]]]) -> None:
        self.requests += len(prompts)
        self.steps += len({step for step, _ in prompts})
        self.tokens += sum(len(t) for _, t in prompts)
        for (step, before), (next_step, after) in itertools.pairwise(prompts):
            (self.rounds if next_step == step else self.steps_on).add(before, after)

    def row(self) -> dict[str, float]:
        pairs = zip(vars(self.rounds).values(), vars(self.steps_on).values(), strict=True)
        both = Pairs(*(a + b for a, b in pairs))
        return {
            "requests per step": self.requests / self.steps,
            "prompt tokens per request": self.tokens / self.requests,
            "prompt tokens per step": self.tokens / self.steps,
            "shared prefix / prompt": both.shared / both.tokens,
            "  next round of the step": self.rounds.shared / max(self.rounds.tokens, 1),
            "  first round of the next step": self.steps_on.shared / max(self.steps_on.tokens, 1),
            "uncached tokens per step (prefix reuse)": (self.tokens - both.shared) / self.steps,
            "OpenAI-cacheable / prompt": both.openai_cached / both.tokens,
            "OpenAI-uncached tokens per step": (self.tokens - both.openai_cached) / self.steps,
        }


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def measure(
    episodes: list[list[tuple[int, PolicyView]]], renders: dict[str, Render], max_proposals: int
) -> dict[str, Tally]:
    """Each variant's counts over the episodes' views."""
    tokenize = Tokenizer()
    tallies = {name: Tally() for name in renders}
    for views in episodes:
        for name, render in renders.items():
            prompts = [(step, tokenize(render(view, max_proposals))) for step, view in views]
            tallies[name].add_episode(prompts)
            tallies[name].system_tokens.add(len(tokenize([render(views[0][1], max_proposals)[0]])))
    return tallies


def print_table(tallies: dict[str, Tally], where: str, games: int) -> None:
    old, new = tallies["old"], tallies["new"]
    print(f"LLM policy prompts (SmolLM2 tokenizer, its chat template): {games} games of {where},")
    print(f"{new.steps} steps, {new.requests} requests; old: {BASELINE} (JSON state), new: {policy.VERSION}")
    print(f"{'':40}{'old':>9}{'new':>9}{'new/old':>9}")
    after = new.row()
    for key, before in old.row().items():
        digits = 1 if "tokens" in key else 3
        ratio = f"{after[key] / before:8.3f}x" if before else f"{'-':>9}"
        print(f"{key:40}{before:9.{digits}f}{after[key]:9.{digits}f}{ratio}")
    print(f"system message tokens: old {sorted(old.system_tokens)}, new {sorted(new.system_tokens)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--games", type=int, default=10, help="games of valid_seen to play (seeded sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the game sample")
    parser.add_argument("--steps", type=int, default=30, help="steps per episode at most")
    parser.add_argument("--data-root", help="ALFWorld data root holding valid_seen (default: ALFWorld's)")
    parser.add_argument("--archives", help="folder of <split>.tar.xz to unpack valid_seen from if missing")
    parser.add_argument("--show", type=int, help="print the new prompt of this request (0-based) of game 1")
    args = parser.parse_args(argv)
    config = Config()
    with tempfile.TemporaryDirectory(prefix="prompt-tokens-") as tmp:
        games, where = pick_games(args, Path(tmp))
        env = AlfworldEnv(max_steps=args.steps)
        episodes = [asyncio.run(play(game, env, config)) for game in games]
    renders: dict[str, Render] = {"old": baseline_module().policy_messages, "new": policy.policy_messages}
    if args.show is not None:
        for message in policy.policy_messages(episodes[0][args.show][1], config.policy.max_proposals):
            print(f"--- {message['role']}\n{message['content']}")
    print_table(measure(episodes, renders, config.policy.max_proposals), where, len(games))


if __name__ == "__main__":
    main()
