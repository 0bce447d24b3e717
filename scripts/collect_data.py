"""The seed's data collection script: `implement collect` with the seed's flags."""

import argparse

from _seed import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alfworld_root", help="ALFWorld data root (default: $ALFWORLD_DATA)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--batch_size", type=int, default=5, help="environments played in parallel")
    parser.add_argument("--num_tasks", type=int, help="games sampled from the split (default: all)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    argv = ["collect", "--out", args.output_dir, "--split", args.split, "--batch-size", str(args.batch_size)]
    argv += ["--seed", str(args.seed), *(["--num-tasks", str(args.num_tasks)] if args.num_tasks else [])]
    run([*argv, *(["--resume"] if args.resume else [])], alfworld_root=args.alfworld_root)


if __name__ == "__main__":  # worker processes import this file again
    main()
