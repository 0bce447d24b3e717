"""The seed's evaluation script: `implement evaluate` with the seed's flags (those of the paper's code too).

Its flags: --alfworld_root, --api_url, --model, --output_dir (default ./results), --batch_size
(environments at once: --parallel) and --max_trials (trials per game: --trials). Ours besides:
--split, --games, --profile (`paper`: the paper's settings, valid_unseen and seed 928 included).
Unlike the paper's script it plays in process without --api_url and with the LLM-free planner
without --model.
"""

import argparse

from _seed import flags, run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alfworld_root", help="ALFWorld data root (default: $ALFWORLD_DATA)")
    parser.add_argument(
        "--api_url", help="an `implement serve` API server to run the agent (default: in process)"
    )
    parser.add_argument(
        "--model", help="policy LLM: a model name of the OpenAI endpoint, or a spec (default: planner)"
    )
    parser.add_argument("--output_dir", default="./results", help="the run directory (default ./results)")
    parser.add_argument("--batch_size", type=int, help="environments played at once (paper: 5)")
    parser.add_argument(
        "--max_trials", "--trials", type=int, dest="trials", help="trials per game (paper: 12)"
    )
    parser.add_argument(
        "--split", help="ALFWorld split (default valid_seen; the paper profile's valid_unseen)"
    )
    parser.add_argument("--games", type=int, help="a seeded sample of this many games (default: all)")
    parser.add_argument(
        "--profile", choices=("implement", "paper"), help="settings profile (default implement)"
    )
    args = parser.parse_args()
    policy = args.model if args.model is None or ":" in args.model else f"openai:{args.model}"
    options = {
        "--api-url": args.api_url, "--policy": policy, "--trials": args.trials, "--games": args.games,
        "--parallel": args.batch_size, "--split": args.split, "--profile": args.profile,
    }  # fmt: skip
    run(["evaluate", "--out", args.output_dir, *flags(options)], alfworld_root=args.alfworld_root)


if __name__ == "__main__":  # worker processes import this file again
    main()
