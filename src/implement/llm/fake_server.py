"""A small OpenAI-compatible chat server, with faults on demand, for tests, benchmarks and offline demos.

Answers come from a `Script` (an echo by default): choice i of a request is
`script.respond(messages, i)`; or from any in-process `ChatModel` (`chat_model=`): that is
how `implement serve-wm` serves a trained world model where vLLM is not installed. A
seeded `FaultPlan` makes a share of the requests fail the ways real endpoints do: 429
with Retry-After, 500, a hang past any client timeout, a truncated JSON body, or fewer
choices than asked for. In a test::

    server = FakeOpenAIServer(latency=0.2, faults=FaultPlan(rate=0.3, seed=1))
    with server.running() as base_url:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="k")
        ...
    server.stats.to_dict()

From a shell (foreground, uvicorn logs; stop with Ctrl-C)::

    python -m implement.llm.fake_server --port 8000 [--script FILE] [--latency 0.2] [--fault-rate 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import random
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from implement.llm.base import ChatModel, LLMError, Message, message_text
from implement.llm.scripted import Script

logger = logging.getLogger(__name__)

FAULT_KINDS = ("429", "500", "hang", "malformed", "short")
MAX_N = 128  # as the OpenAI API


@dataclass
class FaultPlan:
    """Which share of the requests fail, and how; drawn from a seeded RNG, one draw per request."""

    rate: float = 0.0  # share of chat requests that get a fault, in [0, 1]
    kinds: tuple[str, ...] = FAULT_KINDS  # the faults drawn from, uniformly
    seed: int = 0  # seed of the RNG: the same requests in the same order get the same faults
    retry_after: float = 0.05  # seconds sent in the Retry-After header of a 429
    hang_seconds: float = 30.0  # a "hang" sleeps this long before answering (past any client timeout)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise LLMError(f"fault rate must be in [0, 1], got {self.rate}")
        unknown = [kind for kind in self.kinds if kind not in FAULT_KINDS]
        if unknown:
            raise LLMError(f"unknown fault kinds {unknown}; expected some of {list(FAULT_KINDS)}")
        if self.rate > 0 and not self.kinds:
            raise LLMError("a fault rate above 0 needs at least one fault kind")
        if self.retry_after < 0 or self.hang_seconds < 0:
            raise LLMError(
                f"retry_after and hang_seconds must be >= 0, got {self.retry_after} and {self.hang_seconds}"
            )


@dataclass
class ServerStats:
    """What the server has seen and done (chat completion requests only)."""

    requests: int = 0  # chat completion requests received
    completed: int = 0  # answered with a valid chat.completion (short and hung answers included)
    choices_returned: int = 0  # choices over all completed answers
    faults: dict[str, int] = field(default_factory=dict)  # fault kind -> times applied
    unauthorized: int = 0  # rejected with 401 (wrong or missing key)
    bad_requests: int = 0  # rejected with 400 (a body that is not a chat request)

    def add_fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _error(status: int, message: str, kind: str, code: str | None = None, **headers: str) -> JSONResponse:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _words(text: str) -> int:
    """Tokens, as the fake server counts them: whitespace-separated words."""
    return len(text.split())


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that wakes the fake server's sleepers before its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets=sockets)


class FakeOpenAIServer:
    """An OpenAI-compatible chat server answering from a `Script` or a `ChatModel`, with seeded faults."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        honor_n: bool = True,
        model: str = "fake-model",
        require_key: str | None = None,
        chat_model: ChatModel | None = None,
    ) -> None:
        if latency < 0:
            raise LLMError(f"latency must be >= 0 seconds, got {latency}")
        self.script = script if script is not None else Script()
        self.chat_model = chat_model
        self.latency = latency
        self.faults = faults if faults is not None else FaultPlan()
        self.honor_n = honor_n
        self.model = model
        self._require_key = require_key
        self.stats = ServerStats()
        self._rng = random.Random(self.faults.seed)
        self._ids = 0
        self._stopping: asyncio.Event | None = None
        self.app = self._build_app()

    # -- faults and waiting ------------------------------------------------------------------------------

    def _draw_fault(self) -> str | None:
        """The fault of the next request, or None; always two draws, so the sequence is stable."""
        roll = self._rng.random()
        kind = self._rng.choice(self.faults.kinds) if self.faults.kinds else None
        return kind if roll < self.faults.rate else None

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, unless the server is stopping; False if woken by the shutdown."""
        if seconds <= 0:
            return True
        if self._stopping is None:  # served without the lifespan: plain sleep
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return True
        return False

    def _wake_sleepers(self) -> None:
        """Called on the server's loop when it starts shutting down: hung and slow requests end now."""
        if self._stopping is not None:
            self._stopping.set()

    def _authorized(self, request: Request) -> bool:
        if self._require_key is None:
            return True
        return request.headers.get("authorization", "") == f"Bearer {self._require_key}"

    # -- the app -----------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            self._stopping = asyncio.Event()
            yield
            self._stopping = None

        app = FastAPI(title="fake OpenAI server", lifespan=lifespan)

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/v1/models", response_model=None)
        async def models(request: Request) -> JSONResponse | dict[str, Any]:
            if not self._authorized(request):
                return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
            card = {"id": self.model, "object": "model", "created": 0, "owned_by": "implement"}
            return {"object": "list", "data": [card]}

        @app.post("/v1/chat/completions", response_model=None)
        async def chat_completions(request: Request) -> Response:
            return await self._chat(request)

        return app

    async def _chat(self, request: Request) -> Response:
        if not self._authorized(request):
            self.stats.unauthorized += 1
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        self.stats.requests += 1
        fault = self._draw_fault()  # before any await: faults follow the arrival order
        try:
            body = await request.json()
        except ValueError:
            self.stats.bad_requests += 1
            return _error(400, "the request body is not valid JSON", "invalid_request_error")
        problem = self._check_body(body)
        if problem:
            self.stats.bad_requests += 1
            return _error(400, problem, "invalid_request_error")
        n = body.get("n", 1) if self.honor_n else 1
        if fault == "short" and n == 1:
            fault = None  # one choice cannot be cut short: a normal answer
        if fault is not None:
            self.stats.add_fault(fault)
            logger.debug("fault %r on chat request %d", fault, self.stats.requests)
        if fault == "429":  # a rate limiter rejects up front, without the latency
            wait = self.faults.retry_after
            headers = {"Retry-After": f"{wait:g}", "retry-after-ms": f"{wait * 1000:g}"}
            message = "Rate limit reached (fault injected by the fake server)."
            return _error(429, message, "requests", "rate_limit_exceeded", **headers)
        if fault == "hang" and not await self._sleep(self.faults.hang_seconds):
            return _error(503, "the server is shutting down", "server_error")
        if not await self._sleep(self.latency):
            return _error(503, "the server is shutting down", "server_error")
        if fault == "500":
            return _error(500, "The server had an error (fault injected by the fake server).", "server_error")
        if fault == "short":
            n -= 1
        if fault == "malformed":  # the script is not asked: a lost answer does not use up its turn
            text = json.dumps(self._completion(body, [""] * n))
            return Response(text[: len(text) // 2], media_type="application/json")
        try:
            texts = await self._answers(body, n)
        except LLMError as exc:
            return _error(500, f"the model failed: {exc}", "server_error")
        completion = self._completion(body, texts)
        self.stats.completed += 1
        self.stats.choices_returned += n
        return JSONResponse(completion)

    async def _answers(self, body: dict[str, Any], n: int) -> list[str]:
        if self.chat_model is None:
            return [self.script.respond(body["messages"], i) for i in range(n)]
        completions = await self.chat_model.chat(
            body["messages"],
            n=n,
            temperature=float(body.get("temperature", 1.0)),
            max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 512),
        )
        return [c.text for c in completions]

    @staticmethod
    def _check_body(body: Any) -> str | None:
        """What is wrong with a chat request body, or None."""
        if not isinstance(body, dict):
            return f"expected a JSON object, got {type(body).__name__}"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return "'messages' must be a non-empty list of message objects"
        n = body.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
            return f"'n' must be an integer in [1, {MAX_N}], got {n!r}"
        if body.get("stream"):
            return "'stream' is not supported by the fake server"
        return None

    def _completion(self, body: dict[str, Any], texts: list[str]) -> dict[str, Any]:
        """A chat.completion answering `body` with one choice per text."""
        messages: list[Message] = body["messages"]
        prompt_tokens = sum(_words(message_text(m)) for m in messages)
        completion_tokens = sum(_words(t) for t in texts)
        self._ids += 1
        model = body.get("model")
        return {
            "id": f"chatcmpl-fake-{self._ids}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model if isinstance(model, str) and model else self.model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
                for i, text in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    # -- running -----------------------------------------------------------------------------------------

    def server(self, config: uvicorn.Config) -> uvicorn.Server:
        """A uvicorn server for this app that ends in-flight hangs as soon as it starts shutting down."""
        return _Uvicorn(config, self._wake_sleepers)

    @contextmanager
    def running(
        self, *, log_level: str = "warning", start_timeout: float = 10.0, stop_timeout: float = 5.0
    ) -> Iterator[str]:
        """Serve on 127.0.0.1 (a free port) in a background thread; yields the base URL `http://.../v1`."""
        with serving(self.app, make_server=self.server, log_level=log_level, start_timeout=start_timeout,
                     stop_timeout=stop_timeout) as root:  # fmt: skip
            yield f"{root}/v1"


@contextmanager
def serving(
    app: Any,
    *,
    make_server: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
    log_level: str = "warning",
    start_timeout: float = 10.0,
    stop_timeout: float = 5.0,
    ready_path: str = "/health",
) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a free port) in a background thread, until GET `ready_path`
    answers; yields its root URL `http://127.0.0.1:PORT`."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so; without it every
    # answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, log_level=log_level, access_log=False, lifespan="on",
        timeout_graceful_shutdown=max(1, int(stop_timeout / 2)),
    )  # fmt: skip
    server = make_server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"serve-{port}", daemon=True
    )
    thread.start()
    try:
        _wait_until_up(f"http://127.0.0.1:{port}{ready_path}", server, thread, start_timeout)
        logger.info("server up on 127.0.0.1:%d", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
        if thread.is_alive():
            logger.warning("server on port %d slow to stop; forcing it", port)
            server.force_exit = True
            thread.join(stop_timeout)
        sock.close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now (for a server started next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def subprocess_server(argv_for_port: Callable[[int], list[str]], *, timeout: float = 30.0) -> Iterator[str]:
    """Run a server command (`argv_for_port(port)`, on a free port) in a subprocess; yields its base URL.

    Benchmarks use it to keep the server's event loop out of the measured process.
    """
    port = free_port()
    process = subprocess.Popen(argv_for_port(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(
            f"http://127.0.0.1:{port}/health", timeout=timeout, alive=lambda: process.poll() is None
        )
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


def wait_for_http(url: str, *, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Block until GET `url` answers 200; raise `LLMError` when `alive()` turns false or time runs out."""
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise LLMError(f"the server behind {url} stopped before it answered")
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=1.0)
        try:
            connection.request("GET", parts.path or "/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass  # not accepting yet: retry
        finally:
            connection.close()
        time.sleep(0.01)
    raise LLMError(f"{url} did not answer within {timeout:g} s")


def _wait_until_up(url: str, server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    """Block until the server thread answers GET `url`; stop it if it does not."""
    try:
        wait_for_http(url, timeout=timeout, alive=thread.is_alive)
    except LLMError:
        server.should_exit = True
        raise


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake server in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m implement.llm.fake_server", description="A fake OpenAI-compatible chat server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--script", help="JSON script of the answers (default: echo the last user message)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that get a fault")
    parser.add_argument(
        "--fault-kinds", default=",".join(FAULT_KINDS), help="comma-separated faults to draw from"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long a 'hang' fault sleeps")
    parser.add_argument("--no-honor-n", action="store_true", help="return one choice whatever n is")
    parser.add_argument("--model", default="fake-model", help="model name listed by /v1/models")
    parser.add_argument(
        "--require-key-env",
        metavar="VAR",
        help="require `Authorization: Bearer $VAR` (the key is read from this env var, never a flag)",
    )
    args = parser.parse_args(argv)
    key = None
    if args.require_key_env:
        key = os.environ.get(args.require_key_env)
        if not key:
            parser.error(f"--require-key-env: environment variable {args.require_key_env} is not set")
    kinds = tuple(kind.strip() for kind in args.fault_kinds.split(",") if kind.strip())
    try:
        faults = FaultPlan(rate=args.fault_rate, kinds=kinds, seed=args.seed, hang_seconds=args.hang_seconds)
        script = Script.load(args.script) if args.script else None
    except LLMError as exc:
        parser.error(str(exc))
    fake = FakeOpenAIServer(
        script, latency=args.latency, faults=faults, honor_n=not args.no_honor_n, model=args.model,
        require_key=key,
    )  # fmt: skip
    config = uvicorn.Config(
        fake.app, host=args.host, port=args.port, lifespan="on", timeout_graceful_shutdown=2
    )
    fake.server(config).run()


if __name__ == "__main__":
    main()
