"""The seed's curation script: `implement curate` with the seed's flags."""

import argparse

from _seed import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input_file", required=True, help="training_samples_metaicl.jsonl")
    parser.add_argument("--data_dir", help="folder holding conditions/ (default: the input file's folder)")
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args()
    run(["curate", "--input", args.input_file, "--out", args.output_dir,
         *(["--data-dir", args.data_dir] if args.data_dir else [])])  # fmt: skip


if __name__ == "__main__":  # worker processes import this file again
    main()
