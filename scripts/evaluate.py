"""The seed's evaluation script: `implement evaluate` with the seed's flags."""

import argparse

from _seed import flags, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alfworld_root", help="ALFWorld data root (default: $ALFWORLD_DATA)")
    parser.add_argument(
        "--api_url", help="an `implement serve` API server to run the agent (default: in process)"
    )
    parser.add_argument(
        "--model", help="policy LLM: a model name of the OpenAI endpoint, or a spec (default: planner)"
    )
    parser.add_argument("--output_dir", required=True, help="the run directory")
    parser.add_argument("--split", default="valid_seen")
    parser.add_argument("--trials", type=int, help="trials per game (paper: 12)")
    parser.add_argument("--games", type=int, help="a seeded sample of this many games (default: all)")
    args = parser.parse_args()
    policy = args.model if args.model is None or ":" in args.model else f"openai:{args.model}"
    options = {"--api-url": args.api_url, "--policy": policy, "--trials": args.trials, "--games": args.games}
    run(
        ["evaluate", "--split", args.split, "--out", args.output_dir, *flags(options)],
        alfworld_root=args.alfworld_root,
    )


if __name__ == "__main__":  # worker processes import this file again
    main()
