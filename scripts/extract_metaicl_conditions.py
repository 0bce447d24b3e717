"""The seed's condition extraction script: `implement extract-conditions` with the seed's flags."""

import argparse

from _seed import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval_dir", nargs="+", required=True, help="evaluation run directories")
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args()
    run(
        [
            "extract-conditions",
            *(a for d in args.eval_dir for a in ("--eval-dir", d)),
            "--out",
            args.output_dir,
        ]
    )


if __name__ == "__main__":  # worker processes import this file again
    main()
