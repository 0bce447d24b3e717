"""The project's OpenAI client vs the raw `openai.AsyncOpenAI` SDK, against the fake server.

The fake server answers every request after a fixed latency, with no faults. N requests
at concurrency C ideally take ceil(N / C) x latency (100 / 20 x 200 ms = 1 s). Prints the
measured time (median of the repeats), the ideal and the ratio, and the client's own CPU
time per request, for both clients. By default the server runs in its own process (as a
real endpoint would), so its CPU does not compete with the client's for the GIL.
Goal (the LLM issue's acceptance item): the project's `OpenAIChatModel` <= 1.3x ideal.
Exit code 1 if the goal is missed, 2 if the project's client cannot be imported.

    python bench/llm_client.py [--requests 100] [--concurrency 20] [--latency 0.2] [--repeats 3]
                               [--server process|thread]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test-side fake server
from fake_openai import FakeOpenAIServer
from servers import subprocess_server

FAKE_SERVER = Path(__file__).resolve().parents[1] / "tests" / "fake_openai.py"

MESSAGES = [{"role": "user", "content": "go to the kitchen"}]


Timing = tuple[float, float]  # (wall seconds, client CPU seconds)


async def _timed_batch(call: Callable[[int], Awaitable[object]], requests: int, concurrency: int) -> Timing:
    """Wall and CPU seconds for `requests` calls (the concurrency limit is the caller's)."""
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(call(i) for i in range(requests)))
    return time.perf_counter() - start, time.process_time() - cpu


def server_process(latency: float) -> AbstractContextManager[str]:
    """The fake server in a subprocess (its event loop keeps its own GIL); yields its base URL."""
    return subprocess_server(
        lambda port: [
            sys.executable,
            str(FAKE_SERVER),
            "--port",
            str(port),
            "--latency",
            str(latency),
        ]
    )


async def raw_sdk(base_url: str, requests: int, concurrency: int) -> Timing:
    """The baseline: the bare SDK under a semaphore, no retries, no accounting."""
    async with openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=60) as client:
        limit = asyncio.Semaphore(concurrency)

        async def call(i: int) -> object:
            async with limit:
                return await client.chat.completions.create(
                    model="fake-model",
                    messages=MESSAGES,  # type: ignore[arg-type]
                    temperature=0.0,
                    max_tokens=512,
                )

        await call(-1)  # warm-up: the first connection and the SDK's lazy set-up, not timed
        return await _timed_batch(call, requests, concurrency)


async def project_client(base_url: str, requests: int, concurrency: int) -> Timing:
    """The project's client, its own endpoint semaphore doing the limiting."""
    from implement.llm.openai_chat import OpenAIChatModel

    model = OpenAIChatModel("fake-model", base_url=base_url, api_key="k", concurrency=concurrency)
    try:

        async def call(i: int) -> object:
            return await model.chat(MESSAGES, n=1, temperature=0.0, max_tokens=512)

        await call(-1)
        timing = await _timed_batch(call, requests, concurrency)
        completions = model.usage.completions
        if completions != requests + 1:
            print(f"warning: the project client recorded {completions} completions, expected {requests + 1}")
        return timing
    finally:
        await model.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server waits per request")
    parser.add_argument("--repeats", type=int, default=3, help="runs per client; the median is reported")
    parser.add_argument("--goal", type=float, default=1.3, help="the largest acceptable ratio to ideal")
    parser.add_argument(
        "--server", choices=("process", "thread"), default="process", help="where the fake server runs"
    )
    args = parser.parse_args()
    ideal = math.ceil(args.requests / args.concurrency) * args.latency
    print(
        f"{args.requests} requests, concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms,"
        f" server in a {args.server}; ideal {ideal:.3f} s"
    )
    try:
        import implement.llm.openai_chat  # noqa: F401
    except ImportError as exc:
        project_error: str | None = f"{type(exc).__name__}: {exc}"
    else:
        project_error = None

    fake = FakeOpenAIServer(latency=args.latency)
    results: dict[str, list[Timing]] = {"raw openai SDK": [], "OpenAIChatModel": []}
    serving = fake.running() if args.server == "thread" else server_process(args.latency)
    with serving as base_url:
        for _ in range(args.repeats):
            results["raw openai SDK"].append(asyncio.run(raw_sdk(base_url, args.requests, args.concurrency)))
            if project_error is None:
                timing = asyncio.run(project_client(base_url, args.requests, args.concurrency))
                results["OpenAIChatModel"].append(timing)

    for name, runs in results.items():
        if not runs:
            print(f"{name:>16}: not run ({project_error})")
            continue
        wall = statistics.median(t for t, _ in runs)
        cpu_ms = statistics.median(c for _, c in runs) / args.requests * 1000
        each = ", ".join(f"{t:.3f}" for t, _ in runs)
        print(
            f"{name:>16}: {wall:.3f} s (runs: {each}); ratio to ideal {wall / ideal:.3f};"
            f" client CPU {cpu_ms:.2f} ms/request"
        )
    if args.server == "thread":
        stats = fake.stats
        print(
            f"server: {stats.requests} requests, {stats.completed} completed, faults {stats.faults or 'none'}"
        )

    if project_error is not None:
        print("the project's client is missing: goal not checked")
        sys.exit(2)
    ratio = statistics.median(t for t, _ in results["OpenAIChatModel"]) / ideal
    verdict = "met" if ratio <= args.goal else "MISSED"
    print(f"goal: OpenAIChatModel <= {args.goal}x ideal: {verdict} ({ratio:.3f}x)")
    if ratio > args.goal:
        sys.exit(1)


if __name__ == "__main__":
    main()
