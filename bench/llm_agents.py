"""A real weak model as the policy of four agents: SmolLM2-135M on a seeded sample of valid_seen games.

The policy of every agent is the embedded SmolLM2-135M-Instruct (`local:smollm2-135m`,
llama.cpp in process, no response cache: every answer is fresh). The world model of the
IMPLEMENT agents is the symbolic one (LLM-free); the belief summary is exact. Agents:

- `vanilla`: the LLM policy on the symbolic state, neither imagination nor MetaICL;
- `react`: ReAct on the text transcript;
- `implement`: policy iteration with the symbolic world model, MetaICL on;
- `implement-no-metaicl`: the same with `policy.metaicl = false`.

Each is played with structured outputs on and off (`llm.structured`), on one fixed seeded
sample of games. Each (agent, structured) cell is one run directory `OUT/<agent>-structured-<mode>`
played by the library's runner (`implement.eval.runner.evaluate`); rerunning the bench with the
same settings resumes unfinished cells. Cells are played trial by trial (trial 1 of every cell,
then trial 2, ...), so a run cut short (`--minutes`) still compares every cell on its first
trials; the table says which cells are unfinished. One progress line per finished episode goes to stderr;
the table (markdown) to stdout, and as JSON to `OUT/summary.json`.

Columns: SR@k (share of games solved in any of their first k trials), steps per success,
the unparseable-answer rate (policy answers that could not be used / all policy answers), the
fallback rate (steps whose action was a fallback / all steps), the share of steps that changed
the symbolic state (a move, a take, an opened receptacle; not "look" or "help"), LLM calls,
prompt and completion tokens (in all and per step) and the agent's seconds per step (LLM time
included, the game not).

    python bench/llm_agents.py [--games 10] [--trials 3] [--max-steps 30] [--seed 0] [--parallel 1]
        [--out runs/bench-llm-agents] [--structured both|on|off] [--max-tokens 192] [--max-tokens-off 96]
        [--max-thought 0]
        [--minutes M]
        [--agents vanilla,react,implement,implement-no-metaicl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from implement.config import Config, load_config
from implement.eval.rundir import STEPS_DIR, RunDir
from implement.eval.runner import Progress, evaluate, run_summary

POLICY = "local:smollm2-135m"
# Bench agent name -> (registered agent, `policy.metaicl`; None: the default, which only implement reads).
AGENTS: dict[str, tuple[str, bool | None]] = {
    "vanilla": ("vanilla", None),
    "react": ("react", None),
    "implement": ("implement", None),
    "implement-no-metaicl": ("implement", False),
}
_REQUEST_FAILED = "request failed"  # a parse error that is no answer: the request itself failed


def make_config(args: argparse.Namespace, agent: str, structured: str, out: Path) -> Config:
    """One cell's settings: the agent, the policy model, structured outputs, the shared game sample."""
    registered, metaicl = AGENTS[agent]
    flags: dict[str, tuple[str, Any]] = {
        "--agent": ("evaluation.agent", registered), "--games": ("evaluation.games", args.games),
        "--trials": ("evaluation.trials", args.trials), "--parallel": ("evaluation.parallel", args.parallel),
        "--seed": ("evaluation.seed", args.seed), "--out": ("evaluation.out", str(out)),
        "--split": ("environment.split", "valid_seen"),
        "--max-steps": ("environment.max_steps", args.max_steps),
        "--policy": ("policy.model", POLICY), "--world-model": ("world_model.model", "symbolic"),
        "--summarizer": ("policy.summarizer", "exact"), "--metaicl": ("policy.metaicl", metaicl),
        "--structured": ("llm.structured", structured),
        "--max-tokens": ("llm.max_tokens", args.max_tokens if structured == "on" else args.max_tokens_off),
        "--max-thought": ("policy.max_thought", args.max_thought),
    }  # fmt: skip
    config = load_config(flags=flags)
    config.llm.cache = None  # fresh answers
    return config


# -- reading the step logs -----------------------------------------------------------------------------


def decisions(run_dir: Path) -> Iterator[tuple[dict[str, Any], bool]]:
    """The decision details of every step logged in a run directory, and whether the step changed
    the symbolic state (what the game showed, read by the text parser)."""
    for path in sorted((run_dir / STEPS_DIR).rglob("*.jsonl")):
        before = None
        for line in path.read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if "decision" in record:
                yield record["decision"]["details"], record["state"] != before
            before = record.get("state", before)


def round_answers(reply: dict[str, Any]) -> tuple[int, int]:
    """(answers, unusable answers) of one policy round: each parse error is one unusable answer,
    plus the answer that was used, if any (a choice or proposals). A failed request is no answer."""
    bad = sum(1 for e in reply.get("parse_errors", []) if not e.startswith(_REQUEST_FAILED))
    used = reply.get("choice") is not None or bool(reply.get("proposals"))
    return bad + int(used), bad


def step_answers(details: dict[str, Any]) -> tuple[int, int]:
    """(policy answers, unusable ones) of one step. IMPLEMENT / vanilla: over the rounds;
    ReAct: every answer, of which the last (the command) is unusable when it is not admissible."""
    if "rounds" in details:
        pairs = [round_answers(r["reply"]) for r in details["rounds"]]
        return sum(a for a, _ in pairs), sum(b for _, b in pairs)
    answers = len(details.get("answers", []))
    unusable = answers > 0 and details.get("fallback") is None and not details.get("admissible", True)
    return answers, int(unusable)


def log_stats(run_dir: Path) -> dict[str, int]:
    """Steps, policy answers, unusable answers and fallback steps over a run's step logs."""
    stats = {"steps": 0, "answers": 0, "unparseable": 0, "fallbacks": 0, "changing": 0}
    for details, changed in decisions(run_dir):
        stats["changing"] += changed
        answers, bad = step_answers(details)
        stats["steps"] += 1
        stats["answers"] += answers
        stats["unparseable"] += bad
        stats["fallbacks"] += details.get("fallback") is not None
    return stats


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def cell_row(agent: str, structured: str, summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """One table row: the runner's summary of a cell and what its step logs say."""
    stats, usage = log_stats(run_dir), summary["usage"]
    steps = stats["steps"]
    return {
        "agent": agent,
        "structured": structured,
        "run_dir": str(run_dir),
        "complete": summary["complete"],
        "episodes": summary["episodes"],
        "errors": summary["errors"],
        "sr_at_1": summary["sr_at"].get("1"),
        "sr_at_3": summary["sr_at"].get("3"),
        "steps_per_success": summary["steps_per_success"],
        "steps": steps,
        "policy_answers": stats["answers"],
        "unparseable_rate": _share(stats["unparseable"], stats["answers"]),
        "fallback_rate": _share(stats["fallbacks"], steps),
        "changing_rate": _share(stats["changing"], steps),
        "llm_calls": int(usage.get("llm_calls", 0)),
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": int(usage.get("completion_tokens", 0)),
        "prompt_tokens_per_step": _share(usage.get("prompt_tokens", 0), steps),
        "completion_tokens_per_step": _share(usage.get("completion_tokens", 0), steps),
        "seconds_per_step": _share(usage.get("seconds", 0), steps),
    }


# -- the table -----------------------------------------------------------------------------------------

_COLUMNS = (
    ("agent", "agent"), ("structured", "structured"), ("SR@1", "sr_at_1"), ("SR@3", "sr_at_3"),
    ("steps/success", "steps_per_success"), ("unparseable", "unparseable_rate"),
    ("fallback", "fallback_rate"), ("state-changing steps", "changing_rate"), ("LLM calls", "llm_calls"),
    ("prompt tok", "prompt_tokens"),
    ("compl. tok", "completion_tokens"), ("prompt tok/step", "prompt_tokens_per_step"),
    ("compl. tok/step", "completion_tokens_per_step"), ("s/step", "seconds_per_step"),
    ("errors", "errors"),
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def markdown(settings: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The table, with the setting it measures above it."""
    lines = [
        f"Policy: SmolLM2-135M-Instruct ({POLICY}, llama.cpp in process, no cache). "
        "World model of `implement`: symbolic (LLM-free); belief summary: exact.",
        f"{settings['games']} valid_seen games (seed {settings['seed']}) x {settings['trials']} trials, "
        f"{settings['max_steps']} steps at most; thought under schemas: {settings['max_thought']} chars; "
        f"completion tokens at most {settings['max_tokens']} (structured on), "
        f"{settings['max_tokens_off']} (off).",
        "",
        "| " + " | ".join(title for title, _ in _COLUMNS) + " |",
        "|" + "|".join("---" for _ in _COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[key]) for _, key in _COLUMNS) + " |")
    unfinished = [f"{r['agent']}/{r['structured']}" for r in rows if not r["complete"]]
    if unfinished:
        lines.append(f"\nunfinished (rerun to resume): {', '.join(unfinished)}")
    return "\n".join(lines)


# -- playing -------------------------------------------------------------------------------------------


def episode_line(cell: str, record: dict[str, Any]) -> str:
    outcome = f"error {record['error']}" if record["error"] else ("won" if record["won"] else "lost")
    return (
        f"[{cell}] trial {record['trial']} {record['game']}: {outcome} "
        f"in {record['steps']} steps, {record['seconds']:.1f} s"
    )


def play_cell(config: Config, out: Path, cell: str) -> dict[str, Any]:
    """Play (or resume) one cell into `out`; the runner's summary."""
    progress = Progress(on_episode=lambda record: print(episode_line(cell, record), file=sys.stderr))
    return asyncio.run(evaluate(config, out, resume=RunDir(out).exists, progress=progress))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--games", type=int, default=10, help="seeded sample of valid_seen games")
    parser.add_argument("--trials", type=int, default=3, help="trials per game")
    parser.add_argument("--max-steps", type=int, default=30, help="steps per episode")
    parser.add_argument("--seed", type=int, default=0, help="seed of the game sample")
    parser.add_argument(
        "--parallel", type=int, default=1,
        help="environments at once (one llama.cpp context answers one request at a time)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/bench-llm-agents"), help="bench folder")
    parser.add_argument("--structured", choices=("both", "on", "off"), default="both")
    parser.add_argument(
        "--max-tokens", type=int, default=192,
        help="completion tokens per policy answer under schemas (they bound the answer; this never binds)",
    )  # fmt: skip
    parser.add_argument(
        "--max-tokens-off", type=int, default=96,
        help="completion tokens per answer without schemas (a JSON answer fits; free text runs to it)",
    )  # fmt: skip
    parser.add_argument(
        "--max-thought", type=int, default=0,
        help="characters of the policy's thought under its schema (0: none; each one costs decoding time)",
    )  # fmt: skip
    parser.add_argument(
        "--minutes", type=float, default=None,
        help="start no further (cell, trial) after this many minutes; the table marks cells unfinished",
    )  # fmt: skip
    parser.add_argument("--agents", default=",".join(AGENTS), help=f"comma-separated: {', '.join(AGENTS)}")
    args = parser.parse_args()
    args.agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    unknown = [a for a in args.agents if a not in AGENTS]
    if unknown:
        parser.error(f"unknown agents {unknown}; expected some of {', '.join(AGENTS)}")
    return args


def main() -> None:
    args = parse_args()
    modes = ("on", "off") if args.structured == "both" else (args.structured,)
    cells = [(agent, structured) for structured in modes for agent in args.agents]
    keys = ("games", "trials", "max_steps", "seed", "parallel", "max_tokens", "max_tokens_off", "max_thought")
    settings = {k: getattr(args, k) for k in keys}
    settings.update(policy=POLICY, world_model="symbolic (LLM-free)", split="valid_seen")
    deadline = time.monotonic() + args.minutes * 60 if args.minutes is not None else None
    # Trial by trial over the cells: a run cut short by --minutes still has every cell's first trials.
    for trial in range(1, args.trials + 1):
        for agent, structured in cells:
            if deadline is not None and time.monotonic() > deadline:
                break
            cell = f"{agent}-structured-{structured}"
            config = make_config(args, agent, structured, args.out / cell)
            config.evaluation.trials = trial
            play_cell(config, args.out / cell, cell)
    rows = []
    for agent, structured in cells:
        out = args.out / f"{agent}-structured-{structured}"
        if RunDir(out).exists:
            rows.append(cell_row(agent, structured, run_summary(RunDir(out), args.trials), out))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    print(markdown(settings, rows))


if __name__ == "__main__":
    main()
