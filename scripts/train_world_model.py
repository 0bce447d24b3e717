"""The seed's training script: `implement train` with the seed's flags (and a step limit for CPUs)."""

import argparse

from _seed import flags, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data_dir", required=True, help="folder with the curated samples")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--num_epochs", type=int, help="epochs (paper: 3)")
    parser.add_argument("--base_model", help="default: Qwen/Qwen2.5-VL-7B-Instruct; smollm2-135m on a CPU")
    parser.add_argument("--max_steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--batch_size", type=int, help="per-device batch size (paper: 4)")
    parser.add_argument("--gradient_accumulation", type=int, help="accumulated batches (paper: 4)")
    args = parser.parse_args()
    options = {
        "--epochs": args.num_epochs,
        "--base-model": args.base_model,
        "--max-steps": args.max_steps,
        "--batch-size": args.batch_size,
        "--gradient-accumulation": args.gradient_accumulation,
    }
    run(["train", "--data-dir", args.data_dir, "--output-dir", args.output_dir, *flags(options)])


if __name__ == "__main__":  # worker processes import this file again
    main()
