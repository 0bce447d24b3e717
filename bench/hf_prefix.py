"""The hf backend's prefix cache: seconds per world-model request with it, against every prompt read whole.

One agent step of the diff format, several times over: a `[PER]` request, then `[PRE]` requests
for a few candidate actions from the new state (they share the prompt up to the action), and
one information-gathering `[PRE]` with `--samples` samples. The same requests, greedy or seeded,
run on SmolLM2-135M (the embedded model) with `prefix_cache` on and off, in this run.

    python bench/hf_prefix.py [--steps 3] [--samples 3] [--max-tokens 24]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from implement.llm.base import Message
from implement.llm.hf import TransformersChatModel
from implement.prompts.world_model import perception_messages, prediction_messages
from implement.state import ReceptacleState, SymbolicState

RECEPTACLES = [
    *("countertop 1", "countertop 2", "cabinet 1", "cabinet 2", "drawer 1", "fridge 1"),
    *("microwave 1", "sinkbasin 1", "stoveburner 1", "shelf 1", "garbagecan 1", "diningtable 1"),
]
OPENABLE = ("cabinet", "drawer", "fridge", "microwave")


def step_requests(step: int, samples: int) -> list[tuple[list[Message], int, float]]:
    """One step's requests: (messages, n, temperature)."""
    seen = RECEPTACLES[: step + 2]
    state = SymbolicState(
        agent_location=seen[-1],
        world_state={
            name: ReceptacleState(
                visited=name in seen,
                open=False if name.startswith(OPENABLE) else "N/A",
                objects=(f"apple {i + 1}", f"mug {i + 1}") if name in seen else (),
            )
            for i, name in enumerate(RECEPTACLES)
        },
    )
    observation = f"You arrive at {seen[-1]}. On it, you see an apple {step + 2}, and a mug {step + 2}."
    arrived = perception_messages(state, f"go to {seen[-1]}", observation, succeeded=True, format="diff")
    requests = [(arrived, 1, 0.0)]
    for target in ("countertop 1", "sinkbasin 1", "shelf 1"):
        requests.append((prediction_messages(state, f"go to {target}", format="diff"), 1, 0.0))
    requests.append((prediction_messages(state, "go to fridge 1", format="diff"), samples, 1.0))
    return requests


def timed(model: TransformersChatModel, steps: int, samples: int, max_tokens: int) -> tuple[float, list[str]]:
    """Seconds for all the steps' requests, and the answers' texts."""
    texts: list[str] = []
    started = time.perf_counter()
    for step in range(steps):
        for messages, n, temperature in step_requests(step, samples):
            answers = asyncio.run(model.chat(messages, n=n, temperature=temperature, max_tokens=max_tokens))
            texts += [a.text for a in answers]
    return time.perf_counter() - started, texts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()
    requests = args.steps * len(step_requests(0, args.samples))
    results = {}
    for cached in (False, True):  # the baseline first: the model and its files are warm for both
        model = TransformersChatModel("smollm2-135m", device="cpu", structured="off", prefix_cache=cached)
        asyncio.run(model.chat([{"role": "user", "content": "Hello."}], max_tokens=2))  # warm-up
        results[cached] = timed(model, args.steps, args.samples, args.max_tokens)
    (whole, whole_texts), (cached, cached_texts) = results[False], results[True]
    same = sum(a == b for a, b in zip(whole_texts, cached_texts, strict=True))
    print(f"{requests} requests ({args.steps} steps, {args.samples} samples when gathering information)")
    print(f"every prompt read whole: {whole / requests:.2f} s/request")
    print(f"prefix cache:            {cached / requests:.2f} s/request  ({cached / whole:.3f}x)")
    print(f"same answers: {same}/{len(whole_texts)}")


if __name__ == "__main__":
    main()
