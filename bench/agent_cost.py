"""What the IMPLEMENT agent costs per environment step, and what parallel environments save.

Both measurements play ImplementAgent (LLMPolicy + LLMWorldModel over OpenAIChatModel, two
rounds per step) on the six small games of `tests/alfgames.py`, built into a temp folder,
against the fake server. A deterministic script answers from the prompt alone: the policy
proposes going to the first two unvisited receptacles, then chooses the first evaluated one;
perception answers the text parser's state, prediction the current state.

1. Tokens and requests per environment step, one trace played twice with the same actions:
   ours (a server that honors `n`: the Monte Carlo samples of an action in one request, and a
   SQLite response cache) vs the reference (a server that ignores `n`, so one request per
   sample, and no cache). Goal: ours <= 1/3 of the reference's tokens.
2. Wall time of 5 games on 5 parallel environments vs 1, the server in its own process with a
   fixed latency, no cache. Goal: speed-up >= 4.5x.

Missing a goal is printed, not an error; the exit code is non-zero only if something fails.

    python bench/agent_cost.py [--steps 4] [--mc-samples 10] [--latency 0.2] [--parallel 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from implement.agents import Agent
from implement.agents.implement import ImplementAgent
from implement.agents.llm_policy import LLMPolicy
from implement.config import Config
from implement.envs.games import DATA_VERSION, find_games
from implement.eval.runner import evaluate
from implement.llm.base import ChatModel, Message
from implement.llm.cache import CachedChatModel, ResponseCache
from implement.llm.openai_chat import OpenAIChatModel
from implement.llm.scripted import Script, last_user_text
from implement.prompts.world_model import PER_TAG, PRE_TAG
from implement.state import SymbolicState
from implement.world_model.llm import LLMWorldModel
from implement.world_model.parsing import json_objects
from implement.world_model.perception import update_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-side servers, small games
from fake_openai import FakeOpenAIServer
from servers import subprocess_server

SPLIT = "bench"
_ADMISSIBLE = re.compile(r"Admissible commands:\n(.*?)(?:\n\n|$)", re.DOTALL)
_EVALUATED = re.compile(r"Evaluated actions \(imagined by the world model\):\n(.*?)\n\nRound", re.DOTALL)
_UNVISITED = re.compile(r"^Not visited: (.*)$", re.MULTILINE)  # the policy prompt's compact state
_PERCEPTION = re.compile(r"Action: (.*?)\n.*?\nObservation: (.*)\nOther receptacles visible:", re.DOTALL)


def _first_state(text: str) -> SymbolicState:
    """The first JSON object of a prompt: the state it carries."""
    return SymbolicState.from_dict(next(json_objects(text[text.index("{") :])))


class TraceScript(Script):
    """Answers read off the prompt alone, so every scheme and every run decides the same way."""

    def respond(self, messages: list[Message], sample: int = 0) -> str:
        text = last_user_text(messages)
        if text.startswith(PER_TAG):
            match = _PERCEPTION.search(text)
            if match is None:
                raise ValueError(f"a perception prompt without its action or observation: {text[:200]!r}")
            return update_state(_first_state(text), match[1], match[2]).to_json()
        if text.startswith(PRE_TAG):
            return _first_state(text).to_json()
        evaluated = _EVALUATED.search(text)
        if evaluated and evaluated[1] != "(none yet)":
            first = evaluated[1].splitlines()[0].removeprefix("- ").split(": ", 1)[0]
            return json.dumps({"thought": "first evaluated", "help": False, "action": first, "proposals": []})
        admissible = _ADMISSIBLE.search(text)
        commands = [line.removeprefix("- ") for line in admissible[1].splitlines()] if admissible else []
        listed = _UNVISITED.search(text)
        names = {re.sub(r" \(holds .*\)$", "", n) for n in listed[1].split(", ")} if listed else set()
        unvisited = [c for c in commands if c.startswith("go to ") and c[6:] in names]
        proposals = list(dict.fromkeys([*unvisited, *commands]))[:2]
        return json.dumps({"thought": "explore", "help": True, "action": None, "proposals": proposals})


# -- playing -------------------------------------------------------------------------------------------


def make_config(root: Path, steps: int, parallel: int, games: int | None = None) -> Config:
    config = Config()
    config.environment.data_dir, config.environment.split, config.environment.max_steps = (
        str(root),
        SPLIT,
        steps,
    )
    config.evaluation.agent, config.evaluation.trials = "implement", 1
    config.evaluation.parallel, config.evaluation.games = parallel, games
    return config


def builder(chat: ChatModel, mc_samples: int) -> Callable[..., Callable[[], Agent]]:
    def build(config: Config, **_: Any) -> Callable[[], Agent]:
        return lambda: ImplementAgent(
            LLMPolicy(chat), LLMWorldModel(chat), mc_samples=mc_samples, max_rounds=2
        )

    return build


def play(
    config: Config, out: Path, model: OpenAIChatModel, chat: ChatModel, mc_samples: int
) -> list[dict[str, Any]]:
    """Run the evaluation through `chat` (over `model`); its episodes, sorted. A failed episode exits."""

    async def run() -> None:
        try:
            await evaluate(config, out, builder=builder(chat, mc_samples))
        finally:
            await model.client.close()

    asyncio.run(run())
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    failed = [e for e in episodes if e["error"]]
    if failed:
        raise SystemExit(
            f"{len(failed)} episodes failed; first ({failed[0]['game']}):\n{failed[0]['traceback']}"
        )
    decisions = [
        json.loads(line)["decision"]["details"]
        for path in (out / "steps").rglob("*.jsonl")
        for line in path.read_text().splitlines()
        if '"decision"' in line
    ]
    off_script = [
        d for d in decisions if d["fallback"] or any(r["reply"]["parse_errors"] for r in d["rounds"])
    ]
    if off_script:
        print(f"warning: {len(off_script)} of {len(decisions)} steps re-asked or fell back (off the script)")
    return sorted(episodes, key=lambda e: e["game"])


def fake_client(base_url: str) -> OpenAIChatModel:
    return OpenAIChatModel("fake-model", base_url=base_url, api_key="k", max_retries=2, timeout=30)


# -- 1. tokens and requests per step -------------------------------------------------------------------


def cost_per_step(root: Path, work: Path, steps: int, mc_samples: int) -> None:
    config = make_config(root, steps, parallel=1)
    rows: dict[str, dict[str, float]] = {}
    actions: dict[str, list[list[str]]] = {}
    for name, honor_n, cached in (("ours", True, True), ("reference", False, False)):
        server = FakeOpenAIServer(TraceScript(), honor_n=honor_n)
        with server.running() as url:
            model = fake_client(url)
            chat: ChatModel = (
                CachedChatModel(model, ResponseCache(work / "cache.sqlite")) if cached else model
            )
            episodes = play(config, work / name, model, chat, mc_samples)
        taken = sum(e["steps"] for e in episodes)
        usage = model.usage
        if usage.requests != server.stats.requests:
            counted = f"the client counted {usage.requests} requests, the server {server.stats.requests}"
            print(f"warning: {name}: {counted}")
        actions[name] = [e["actions"] for e in episodes]
        rows[name] = {
            "requests": server.stats.requests / taken,
            "prompt": usage.prompt_tokens / taken,
            "completion": usage.completion_tokens / taken,
            "tokens": (usage.prompt_tokens + usage.completion_tokens) / taken,
            "steps": taken,
            "hits": usage.cache_hits,
        }
    if actions["ours"] != actions["reference"]:
        raise SystemExit("the two schemes took different actions: the trace is not deterministic")

    ours, reference = rows["ours"], rows["reference"]
    games = len(actions["ours"])
    print(f"1. tokens and requests per environment step ({ours['steps']:.0f} steps of {games} games,")
    print(f"   mc_samples {mc_samples}, max_rounds 2, the same actions in both schemes)")
    print(f"{'':14}{'requests':>10}{'prompt tok':>12}{'compl. tok':>12}{'total tok':>12}")
    for label, row in (("ours", ours), ("reference", reference)):
        print(
            f"{label:14}{row['requests']:10.2f}{row['prompt']:12.1f}{row['completion']:12.1f}{row['tokens']:12.1f}"
        )
    ratios = {k: ours[k] / reference[k] for k in ("requests", "prompt", "completion", "tokens")}
    print(
        f"{'ours / ref.':14}{ratios['requests']:9.3f}x{ratios['prompt']:11.3f}x"
        f"{ratios['completion']:11.3f}x{ratios['tokens']:11.3f}x"
    )
    print(f"   ours: n samples per request, response cache ({ours['hits']:.0f} cached samples);")
    print("   reference: one request per sample, no cache")
    verdict = "goal met" if ratios["tokens"] <= 1 / 3 else "goal missed"
    print(f"   goal: tokens <= 1/3 (0.333x) of the reference: {verdict} ({ratios['tokens']:.3f}x)")


# -- 2. wall time, parallel environments ---------------------------------------------------------------


def server_process(latency: float) -> AbstractContextManager[str]:
    """The fake server in a subprocess (its event loop keeps its own GIL); yields its base URL."""
    return subprocess_server(
        lambda port: [sys.executable, __file__, "--serve", str(port), "--latency", str(latency)]
    )


def parallel_speedup(
    root: Path, work: Path, steps: int, mc_samples: int, latency: float, parallel: int
) -> None:
    from implement.envs.alfworld import AlfworldEnv

    games = find_games(SPLIT, root)
    for game in games:  # the PDDL translations, once per process: not part of either timing
        AlfworldEnv().reset(game)
    seconds: dict[int, float] = {}
    ideal: dict[int, float] = {}
    taken: dict[int, int] = {}
    with server_process(latency) as url:
        for envs in (1, parallel):
            model = fake_client(url)
            started = time.perf_counter()
            config = make_config(root, steps, parallel=envs, games=parallel)
            episodes = play(config, work / f"parallel-{envs}", model, model, mc_samples)
            seconds[envs] = time.perf_counter() - started
            taken[envs] = sum(e["steps"] for e in episodes)
            # requests one after another: per step perception, policy, predictions (together), policy
            chains = [latency * (4 * e["steps"] - 1) for e in episodes]
            ideal[envs] = sum(chains) if envs == 1 else max(chains)
    speedup = seconds[1] / seconds[parallel]
    print(
        f"2. wall time, {parallel} games, {steps} steps each at most, server latency {latency * 1000:.0f} ms"
    )
    print("   (server in its own process, n honored, no cache)")
    for envs in (1, parallel):
        label = f"{envs} environment{'s' if envs > 1 else ''}"
        print(f"{label:>18}: {seconds[envs]:7.2f} s ({taken[envs]} steps; latency alone {ideal[envs]:.2f} s)")
    verdict = "goal met" if speedup >= 4.5 else "goal missed"
    print(f"   speed-up {speedup:.2f}x; goal >= 4.5x: {verdict}")


def serve(port: int, latency: float) -> None:
    """The fake server with the trace script, in the foreground (for `server_process`)."""
    FakeOpenAIServer(TraceScript(), latency=latency).serve("127.0.0.1", port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=4, help="max steps per episode")
    parser.add_argument("--mc-samples", type=int, default=10, help="Monte Carlo samples per imagined action")
    parser.add_argument(
        "--latency", type=float, default=0.2, help="seconds the server waits per request (2.)"
    )
    parser.add_argument("--parallel", type=int, default=5, help="games and environments of measurement 2")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.latency)
        return

    from alfgames import standard_games

    with tempfile.TemporaryDirectory(prefix="agent-cost-") as tmp:
        root, work = Path(tmp) / "data", Path(tmp)
        standard_games(root / DATA_VERSION / SPLIT)
        cost_per_step(root, work, args.steps, args.mc_samples)
        print()
        parallel_speedup(root, work, args.steps, args.mc_samples, args.latency, args.parallel)


if __name__ == "__main__":
    main()
