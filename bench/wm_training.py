"""The world-model pipeline proven to learn at CPU scale: collect, prepare, curate, train, score.

Each step is a run of the `implement` CLI into `OUT/<step>`; a rerun skips the finished ones.

1. `collect`: `--train-games` seeded train games played by the behaviour policy (its expert
   share reads walkthroughs: fine for data collection, never for an agent under evaluation);
2. `prepare` and `curate --format diff`: both modes' conversations, answers as diffs;
3. `train --config RECIPE` (default `recipes/cpu-small.toml`: SmolLM2-135M, full fine-tuning,
   a time budget), its training and validation losses logged every few steps;
4. `wm eval` on held-out valid_seen games (`--eval-games`, the split's first ones): the symbolic
   model, the trained model and the untrained base (`hf:smollm2-135m`, on the first
   `--base-games`), under the recipe's settings (diff answers), without the search rank,
   `--samples` samples per information-gathering action; the base gets `--base-max-tokens`
   completion tokens (it seldom stops by itself, and a token takes ~0.05 s here);
5. with `--loop`: `evaluate` (the planner as policy) on `--loop-games` valid_seen games x
   `--loop-trials` trials of at most `--loop-max-steps` steps, with the trained model and with
   the symbolic one; beside SR@k, how often the agent's perceived state agrees with the text
   parser's after a step.

The report goes to stdout (markdown) and to `DOCS/wm-training.json`, the loss plot to
`DOCS/wm-training-loss.svg`.

    python bench/wm_training.py [--train-games 200] [--eval-games 42] [--base-games N] [--samples 1]
        [--recipe recipes/cpu-small.toml] [--out runs/wm-training] [--docs docs] [--loop]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASE = "hf:smollm2-135m"
EVAL_KEYS = (
    "deterministic_transitions", "deterministic_exact_match", "failure_prediction_accuracy",
    "information_gathering_transitions", "contents_log_likelihood", "dropped_samples",
)  # fmt: skip


def implement(args: list[str], out: Path) -> dict[str, Any]:
    """Run `implement ARGS --json` once: its report, saved as `out` (read back on a rerun)."""
    if out.is_file():
        return dict(json.loads(out.read_text()))
    print(f"$ implement {' '.join(args)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "implement.cli", *args, "--json"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"implement {args[0]} failed (exit {done.returncode}); see its messages above")
    report = dict(json.loads(done.stdout))
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def build_model(args: argparse.Namespace) -> dict[str, Any]:
    """Steps 1-3: the data and the trained model; their reports."""
    out, seed, recipe = args.out, str(args.seed), str(args.recipe)
    samples = out / "prepared" / "training_samples_metaicl.jsonl"
    steps = {
        "collect": [
            "--out",
            out / "collect",
            "--split",
            "train",
            "--num-tasks",
            args.train_games,
            "--seed",
            seed,
        ],
        "prepare": ["--data-dirs", out / "collect", "--out", out / "prepared", "--seed", seed],
        "curate": ["--input", samples, "--out", out / "curated", "--config", recipe],
        "train": ["--config", recipe, "--data-dir", out / "curated", "--output-dir", out / "model"],
    }
    return {
        step: implement([step, *map(str, flags)], out / "reports" / f"{step}.json")
        for step, flags in steps.items()
    }


def score(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Step 4: the three world models on the same held-out transitions."""
    models = {"symbolic": "symbolic", "trained": f"hf:{args.out / 'model'}", "untrained base": BASE}
    flags = [
        "--config",
        str(args.recipe),
        "--split",
        "valid_seen",
        "--samples",
        str(args.samples),
        "--no-search",
    ]
    limit = ["--limit", str(args.eval_games)]
    extra = {
        "untrained base": [
            "--max-tokens",
            str(args.base_max_tokens),
            "--limit",
            str(args.base_games or args.eval_games),
        ]
    }
    reports = args.out / "reports"
    return {
        name: implement(
            ["wm", "eval", "--world-model", spec, *flags, *extra.get(name, limit)],
            reports / f"wm-eval-{name.replace(' ', '-')}.json",
        )
        for name, spec in models.items()
    }


def loop(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Step 5: the IMPLEMENT agent (planner policy) with each world model."""
    models = {"symbolic": "symbolic", "trained": f"hf:{args.out / 'model'}"}
    flags = [
        "--config",
        str(args.recipe),
        "--policy",
        "planner",
        "--split",
        "valid_seen",
        "--seed",
        str(args.seed),
    ]
    flags += ["--games", str(args.loop_games), "--trials", str(args.loop_trials), "--resume"]
    flags += ["--max-steps", str(args.loop_max_steps)]
    flags += ["--parallel", str(args.loop_games)]  # every game at once: the hf backend batches them
    reports = args.out / "reports"
    summaries = {}
    for name, spec in models.items():
        run_dir = args.out / f"loop-{name}"
        summary = implement(
            ["evaluate", "--world-model", spec, "--out", str(run_dir), *flags], reports / f"loop-{name}.json"
        )
        summaries[name] = {**summary, "perception": perception_agreement(run_dir)}
    return summaries


def perception_agreement(run_dir: Path) -> dict[str, Any]:
    """How often the state the agent acts on (the world model's `[PER]`, its errors carried over)
    agrees with the text parser's after a step: whole, location, inventory, receptacles."""
    counts = {"steps": 0, "state": 0, "location": 0, "inventory": 0, "receptacles": 0}
    for path in sorted((run_dir / "steps").glob("*/*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        for parsed, after in itertools.pairwise(lines[1:]):  # step 0: the room, read by the parser
            believed, truth = after["decision"]["details"]["state"], parsed["state"]
            counts["steps"] += 1
            counts["state"] += believed == truth
            counts["location"] += believed["agent_location"] == truth["agent_location"]
            counts["inventory"] += believed["inventory"] == truth["inventory"]
            counts["receptacles"] += believed["world_state"] == truth["world_state"]
    steps = counts["steps"]
    return {"steps": steps, **{k: round(v / steps, 3) for k, v in counts.items() if k != "steps" and steps}}


LOOP_KEYS = ("SR@1", "SR@k", "steps per success", "steps / walkthrough", "s/step", "errors", "[PER] agrees")


def loop_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The columns of an evaluation summary that the loop table shows."""
    sr_at = summary["sr_at"]
    return {
        "SR@1": sr_at["1"], "SR@k": sr_at[str(summary["trials"])],
        "steps per success": summary["steps_per_success"],
        "steps / walkthrough": summary["steps_ratio_to_walkthrough"],
        "s/step": summary["usage"].get("seconds_per_step"), "errors": summary["errors"],
        "[PER] agrees": summary["perception"].get("state"),
    }  # fmt: skip


def table(rows: dict[str, dict[str, Any]], keys: tuple[str, ...]) -> str:
    lines = ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [
        f"| {name} | " + " | ".join(str(row.get(k, "–")) for k in keys) + " |" for name, row in rows.items()
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-games", type=int, default=200, help="train games played for the data")
    parser.add_argument("--eval-games", type=int, default=42, help="held-out valid_seen games scored")
    parser.add_argument("--base-games", type=int, help="the first N of them for the base (default: all)")
    parser.add_argument("--samples", type=int, default=1, help="samples per information-gathering action")
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "cpu-small.toml")
    parser.add_argument(
        "--base-max-tokens", type=int, default=64,
        help="completion tokens of the untrained base (it rarely stops; trained diffs average ~25)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/wm-training"))
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the JSON and the plot go")
    parser.add_argument("--loop", action="store_true", help="also play the agent with the trained model")
    parser.add_argument("--loop-games", type=int, default=10)
    parser.add_argument("--loop-trials", type=int, default=3)
    parser.add_argument("--loop-max-steps", type=int, default=30, help="steps per episode (paper: 30)")
    args = parser.parse_args(argv)
    built = build_model(args)
    scores = score(args)
    report: dict[str, Any] = {
        "recipe": args.recipe.read_text(),
        "data": {k: built[k] for k in ("collect", "prepare", "curate")},
        "train": built["train"],
        "curve": json.loads((args.out / "model" / "implement_train.json").read_text())["curve"],
        "wm_eval": scores,
    }
    args.docs.mkdir(parents=True, exist_ok=True)
    report_path = args.docs / "wm-training.json"
    report_path.write_text(json.dumps(report, indent=2) + "\n")  # the scores, before the long loop
    if args.loop:
        report["loop"] = loop(args)
        report_path.write_text(json.dumps(report, indent=2) + "\n")
    if built["train"].get("loss_curve"):
        shutil.copyfile(built["train"]["loss_curve"], args.docs / "wm-training-loss.svg")
    train = built["train"]
    print(f"trained {train['steps']} steps on {train['train_samples']} samples in {train['seconds']:.0f} s: "
          f"eval loss {train['eval_loss_before']} -> {train['eval_loss']}")  # fmt: skip
    print(table(scores, EVAL_KEYS))
    for name, row in scores.items():
        by_verb = ", ".join(
            f"{v} {r['exact_match']} ({r['transitions']})" for v, r in row["exact_match_by_verb"].items()
        )
        print(f"- {name}, exact match by verb: {by_verb}; misses: {row.get('exact_misses_by_kind', '?')}")
    if args.loop:
        print(table({name: loop_row(summary) for name, summary in report["loop"].items()}, LOOP_KEYS))


if __name__ == "__main__":
    main()
