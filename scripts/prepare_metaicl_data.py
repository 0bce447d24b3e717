"""The seed's MetaICL preparation script: `implement prepare` with the seed's flags."""

import argparse

from _seed import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data_dirs", nargs="+", required=True, help="directories written by collect_data.py"
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run(["prepare", *(a for d in args.data_dirs for a in ("--data-dirs", d)), "--out", args.output_dir,
         "--seed", str(args.seed)])  # fmt: skip


if __name__ == "__main__":  # worker processes import this file again
    main()
