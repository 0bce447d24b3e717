"""The hf backend's prefix cache and batching: seconds per world-model request, against every prompt
read whole and one request at a time.

One agent step of the diff format, several times over: a `[PER]` request, then `[PRE]` requests
for a few candidate actions from the new state (they share the prompt up to the action), and
one information-gathering `[PRE]` with `--samples` samples. The same requests, greedy or seeded,
run on SmolLM2-135M (the embedded model) in this run: with `prefix_cache` off, on, and on with
the steps played as environments at once (their requests batched, `max_batch` 16).

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


Request = tuple[list[Message], int, float]  # messages, n, temperature


def step_requests(step: int, samples: int) -> list[Request]:
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


async def play(
    model: TransformersChatModel, steps: list[list[Request]], max_tokens: int, together: bool
) -> list[str]:
    """Every step's requests, the answers' texts in order. `together`: the steps are environments
    played at once, as `evaluate --parallel` does (each sends its `[PER]`, then its `[PRE]`s at once)."""

    async def ask(messages: list[Message], n: int, temperature: float) -> list[str]:
        answers = await model.chat(messages, n=n, temperature=temperature, max_tokens=max_tokens)
        return [a.text for a in answers]

    async def environment(step: list[Request]) -> list[str]:
        perceive, *predict = step
        if not together:
            return [text for request in (perceive, *predict) for text in await ask(*request)]
        imagined = await asyncio.gather(*(ask(*request) for request in predict))
        return await ask(*perceive) + [text for texts in imagined for text in texts]

    if together:
        answers = await asyncio.gather(*(environment(step) for step in steps))
    else:
        answers = [await environment(step) for step in steps]
    return [text for texts in answers for text in texts]


MODES = {  # name: (prefix_cache, max_batch, environments played at once)
    "every prompt read whole": (False, 1, False),
    "prefix cache": (True, 1, False),
    "prefix cache, batched": (True, 16, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()
    steps = [step_requests(step, args.samples) for step in range(args.steps)]
    requests = sum(len(step) for step in steps)
    kinds = [temperature for step in steps for _, n, temperature in step for _ in range(n)]  # per text
    greedy = [i for i, temperature in enumerate(kinds) if temperature == 0]
    print(f"{requests} requests ({args.steps} steps, {args.samples} samples when gathering information)")
    baseline, first = 0.0, list[str]()
    for name, (cached, batch, together) in MODES.items():  # the baseline first: the files are warm for all
        model = TransformersChatModel(
            "smollm2-135m", device="cpu", structured="off", prefix_cache=cached, max_batch=batch
        )
        asyncio.run(model.chat([{"role": "user", "content": "Hello."}], max_tokens=2))  # warm-up
        started = time.perf_counter()
        texts = asyncio.run(play(model, steps, args.max_tokens, together))
        seconds = time.perf_counter() - started
        baseline, first = baseline or seconds, first or texts
        same = sum(first[i] == texts[i] for i in greedy)  # greedy answers: samples depend on the batch
        print(f"{name + ':':24} {seconds / requests:.2f} s/request ({seconds / baseline:.3f}x), "
              f"{model.generations} generations, same greedy answers {same}/{len(greedy)}")  # fmt: skip


if __name__ == "__main__":
    main()
