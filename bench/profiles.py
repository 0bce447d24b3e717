"""The paper's algorithm (`--profile paper`) against ours, and our ablations, on the same games: one run.

Cells, each one run directory `OUT/<cell>` played by the library's runner (rerunning resumes):

- the embedded path (the LLM-free planner and the symbolic world model) on valid_seen:
  `implement` (the default profile), `paper`, the default with `--no-imagination`, with
  `--no-metaicl`, with both, and with `--rollout-depth 2` (trial 1 only);
- the scripted policy (`examples/scripted_policy.json`: canned answers, no model) as the policy
  of `implement`: default against `paper`, which adds a final call and LLM-written beliefs;
- SmolLM2-135M-Instruct (`local:smollm2-135m`, llama.cpp in process, no cache) as the policy of
  `implement` with the symbolic world model: default against `paper` (its beliefs written by
  SmolLM2 too, everything sampled at temperature 1.0); no thought, and `--llm-max-tokens`
  completion tokens an answer, so that a step takes seconds, not minutes, on this CPU.

On the embedded path solved games are played again in later trials (`replay_solved`; SR@k is
unchanged), so that their steps show what MetaICL adds. Every cell plays the same games: the paper
profile's split (valid_unseen) and seed (928) are overridden by the bench's, and so are its trials
and steps; what remains of the profile is the algorithm. The LLM cells play a seeded sample
(`--llm-games`, `--llm-trials`, `--llm-steps`): a model on this CPU takes seconds a call.

Columns: SR@1 and SR@k (k = the trials), steps ÷ walkthrough of the won episodes in trial 1 and in
the last trial, policy rounds and imagined actions per step, LLM calls and tokens per step, the
agent's seconds per step, the share of steps whose action was a recorded fallback, and the share
of trial-1 episodes whose actions are exactly those of the `implement` cell of the same path (1:
the setting changed nothing the agent did).

    python bench/profiles.py [--trials 3] [--games N] [--llm-games 2] [--llm-trials 1] [--llm-steps 4]
        [--llm-max-tokens 128]
        [--out runs/bench-profiles] [--paths embedded,scripted,smollm2]

The table (markdown) goes to stdout and, as JSON, to `OUT/summary.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from implement.config import Config, load_config
from implement.eval.rundir import RunDir
from implement.eval.runner import Progress, evaluate, run_summary
from llm_agents import decisions

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "scripted_policy.json"
POLICIES = {"embedded": "planner", "scripted": f"scripted:{SCRIPT}", "smollm2": "local:smollm2-135m"}
# Path -> its cells: name -> (profile, extra flags).
CELLS: dict[str, dict[str, tuple[str, dict[str, tuple[str, Any]]]]] = {
    "embedded": {
        "implement": ("implement", {}),
        "paper": ("paper", {}),
        "no-imagination": ("implement", {"--imagination": ("policy.imagination", False)}),
        "no-metaicl": ("implement", {"--metaicl": ("policy.metaicl", False)}),
        "neither": (
            "implement",
            {"--imagination": ("policy.imagination", False), "--metaicl": ("policy.metaicl", False)},
        ),
        # trial 1 only: what it shows (the same actions, more seconds) needs no more, and it is slow
        "rollout-depth-2": (
            "implement",
            {"--rollout-depth": ("policy.rollout_depth", 2), "--trials": ("evaluation.trials", 1)},
        ),
    },
    "scripted": {"implement": ("implement", {}), "paper": ("paper", {})},
    "smollm2": {"implement": ("implement", {}), "paper": ("paper", {})},
}


def make_config(args: argparse.Namespace, path: str, cell: str, out: Path) -> Config:
    """One cell's settings: its profile and flags over the bench's games, trials and steps."""
    profile, extra = CELLS[path][cell]
    llm = path != "embedded"
    flags: dict[str, tuple[str, Any]] = {
        "--profile": ("profile", profile), "--agent": ("evaluation.agent", "implement"),
        "--split": ("environment.split", "valid_seen"), "--seed": ("evaluation.seed", args.seed),
        "--games": ("evaluation.games", args.llm_games if llm else args.games),
        "--trials": ("evaluation.trials", args.llm_trials if llm else args.trials),
        "--max-steps": ("environment.max_steps", args.llm_steps if llm else 30),
        "--parallel": ("evaluation.parallel", 1 if path == "smollm2" else 5),
        "--policy": ("policy.model", POLICIES[path]), "--world-model": ("world_model.model", "symbolic"),
        "--replay-solved": ("evaluation.replay_solved", not llm),  # later trials show what MetaICL adds
        "--out": ("evaluation.out", str(out)), **extra,
    }  # fmt: skip
    if path == "smollm2":  # a bounded answer: this CPU decodes about 10-20 tokens a second
        flags["--max-tokens"] = ("llm.max_tokens", args.llm_max_tokens)
        flags["--max-thought"] = ("policy.max_thought", 0)
    config = load_config(flags=flags, environ={})
    config.llm.cache = None  # fresh answers
    return config


def trial_actions(run: RunDir, trial: int) -> dict[str, list[str]]:
    return {e["game"]: e["actions"] for e in run.episodes() if e["trial"] == trial}


def row(path: str, cell: str, run_dir: Path, baseline: Path) -> dict[str, Any]:
    """One table row from the cell's run directory (and its path's `implement` cell)."""
    summary, details = run_summary(RunDir(run_dir)), [d for d, _ in decisions(run_dir)]
    usage, steps = summary["usage"], len(details)
    by_trial = {t["trial"]: t["steps_ratio_to_walkthrough"] for t in summary["by_trial"]}
    ours, base = trial_actions(RunDir(run_dir), 1), trial_actions(RunDir(baseline), 1)
    same = [ours[g] == base[g] for g in ours if g in base]
    trials = summary["trials"]

    def per_step(total: float) -> float | None:
        return round(total / steps, 3) if steps else None

    return {
        "path": path, "cell": cell, "complete": summary["complete"], "episodes": summary["episodes"],
        "sr_at_1": summary["sr_at"].get("1"), "sr_at_k": summary["sr_at"].get(str(trials)),
        "ratio_first": by_trial.get(1), "ratio_last": by_trial.get(trials) if trials > 1 else None,
        "rounds_per_step": per_step(sum(len(d.get("rounds", [])) for d in details)),
        "imagined_per_step": per_step(usage.get("imagined", 0)),
        "llm_calls_per_step": per_step(usage.get("llm_calls", 0)),
        "tokens_per_step": per_step(usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)),
        "seconds_per_step": per_step(usage.get("seconds", 0)),
        "fallback_rate": per_step(sum(d.get("fallback") is not None for d in details)),
        "same_actions": round(sum(same) / len(same), 3) if same else None,
        "errors": summary["errors"],
    }  # fmt: skip


_COLUMNS = (
    ("path", "path"), ("cell", "cell"), ("SR@1", "sr_at_1"), ("SR@k", "sr_at_k"),
    ("steps ÷ walkthrough, trial 1", "ratio_first"), ("… last trial", "ratio_last"),
    ("rounds/step", "rounds_per_step"), ("imagined/step", "imagined_per_step"),
    ("LLM calls/step", "llm_calls_per_step"), ("tokens/step", "tokens_per_step"),
    ("s/step", "seconds_per_step"), ("fallback steps", "fallback_rate"),
    ("same actions as implement (trial 1)", "same_actions"),
    ("errors", "errors"),
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def markdown(args: argparse.Namespace, rows: list[dict[str, Any]]) -> str:
    games = f"{args.games} sampled" if args.games else "all"
    lines = [
        f"embedded: {games} valid_seen games x {args.trials} trials, 30 steps; scripted and smollm2: "
        f"{args.llm_games} games x {args.llm_trials} trial(s), {args.llm_steps} steps (seed {args.seed}); "
        f"SmolLM2: no thought, {args.llm_max_tokens} completion tokens an answer; world model: symbolic. "
        "The paper profile's split, seed, trials and steps are overridden.",
        "",
        "| " + " | ".join(title for title, _ in _COLUMNS) + " |",
        "|" + "|".join("---" for _ in _COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_cell(r[key]) for _, key in _COLUMNS) + " |" for r in rows]
    unfinished = [f"{r['path']}/{r['cell']}" for r in rows if not r["complete"]]
    if unfinished:
        lines.append(f"\nunfinished (rerun to resume): {', '.join(unfinished)}")
    return "\n".join(lines)


def play(config: Config, out: Path, label: str) -> None:
    def said(record: dict[str, Any]) -> None:
        outcome = f"error {record['error']}" if record["error"] else ("won" if record["won"] else "lost")
        print(f"[{label}] trial {record['trial']} {record['game']}: {outcome}", file=sys.stderr)

    asyncio.run(evaluate(config, out, resume=RunDir(out).exists, progress=Progress(on_episode=said)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=3, help="trials per game on the embedded path")
    parser.add_argument("--games", type=int, default=None, help="seeded sample of games (default: all)")
    parser.add_argument("--llm-games", type=int, default=2, help="games of the scripted and SmolLM2 cells")
    parser.add_argument("--llm-trials", type=int, default=1, help="their trials")
    parser.add_argument("--llm-steps", type=int, default=4, help="their steps per episode")
    parser.add_argument(
        "--llm-max-tokens",
        type=int,
        default=128,
        help="SmolLM2's completion tokens per answer (policy, belief)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the game samples")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-profiles"), help="bench folder")
    parser.add_argument("--paths", default=",".join(CELLS), help=f"comma-separated: {', '.join(CELLS)}")
    args = parser.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    if unknown := [p for p in paths if p not in CELLS]:
        parser.error(f"unknown paths {unknown}; expected some of {', '.join(CELLS)}")
    rows = []
    for path in paths:
        for cell in CELLS[path]:
            out = args.out / f"{path}-{cell}"
            play(make_config(args, path, cell, out), out, f"{path}/{cell}")
            rows.append(row(path, cell, out, args.out / f"{path}-implement"))
    (args.out / "summary.json").write_text(
        json.dumps({"settings": vars(args), "rows": rows}, indent=2, default=str)
    )
    print(markdown(args, rows))


if __name__ == "__main__":
    main()
