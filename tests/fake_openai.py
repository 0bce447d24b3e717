"""The project's OpenAI app on a scripted model, with faults on demand, for tests and benchmarks.

`FakeOpenAIServer` serves `implement.serve.openai_app` (the production app) on a
`ScriptedChatModel` (an echo by default): choice i of a request is `script.respond(messages, i)`;
or on any `ChatModel` given as `chat_model`. `honor_schema=False` drops a request's JSON schema
before the app sees it, as servers that answer a schema with unconstrained text do.
In front of the app, an ASGI layer makes a seeded share of the chat requests fail the ways
real endpoints do: 429 with Retry-After, 500, a hang past any client timeout, a truncated
JSON body, or fewer choices than asked for; it also adds latency, can ignore `n`, and
counts what it saw (`stats`). In a test::

    server = FakeOpenAIServer(latency=0.2, faults=FaultPlan(rate=0.3, seed=1))
    with server.running() as base_url:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="k")
        ...
    server.stats.to_dict()

From a shell, for benchmarks (foreground, uvicorn logs; stop with Ctrl-C)::

    python tests/fake_openai.py --port 8000 [--script FILE] [--latency 0.2] [--fault-rate 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from starlette.datastructures import Headers
from starlette.responses import Response

from implement.llm.base import ChatModel, LLMError
from implement.llm.openai_chat import PROBE_WORD
from implement.llm.scripted import Script, ScriptedChatModel
from implement.serve.openai_app import (
    add_key_option,
    authorized,
    check_chat_body,
    completion_body,
    create_openai_app,
    error_response,
    required_key,
)
from servers import serving

logger = logging.getLogger(__name__)

FAULT_KINDS = ("429", "500", "hang", "malformed", "short")

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]


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

    requests: int = 0  # chat completion requests received (schema probes apart)
    schema_probes: int = 0  # clients' probes of whether JSON schemas are honoured
    completed: int = 0  # answered with a valid chat.completion (short and hung answers included)
    choices_returned: int = 0  # choices over all completed answers
    faults: dict[str, int] = field(default_factory=dict)  # fault kind -> times applied
    unauthorized: int = 0  # rejected with 401 (wrong or missing key)
    bad_requests: int = 0  # rejected with 400 (a body that is not a chat request)

    def add_fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that wakes the fake server's sleepers before its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets=sockets)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over `body` once, then waits on the real one (for the disconnect)."""
    sent = False

    async def replayed() -> ASGIMessage:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


class FakeOpenAIServer:
    """An ASGI app: the OpenAI app answering from a `Script`, behind seeded faults (module docstring)."""

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
        honor_schema: bool = True,
    ) -> None:
        if latency < 0:
            raise LLMError(f"latency must be >= 0 seconds, got {latency}")
        self.script = script if script is not None else Script()
        self.latency = latency
        self.faults = faults if faults is not None else FaultPlan()
        self.honor_n = honor_n
        self.honor_schema = honor_schema
        self.model = model
        self._require_key = require_key
        self.stats = ServerStats()
        self._rng = random.Random(self.faults.seed)
        self._ids = itertools.count(1)
        self._stopping: asyncio.Event | None = None
        chat_model = chat_model or ScriptedChatModel(self.script, name=model)
        self._app = create_openai_app(chat_model, served_name=model, require_key=require_key)

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

    # -- the ASGI layer ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: chat requests go through the faults, everything else straight to the app."""
        if scope["type"] == "lifespan":
            self._stopping = asyncio.Event()
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            return await self._app(scope, receive, send)
        if not authorized(Headers(scope=scope).get("authorization", ""), self._require_key):
            self.stats.unauthorized += 1
            return await self._app(scope, receive, send)
        fault = self._draw_fault()  # before any await: faults follow the arrival order
        raw = await _read_body(receive)
        probe = PROBE_WORD.encode() in raw  # a client's schema probe: counted apart from the requests
        if probe:
            self.stats.schema_probes += 1
        else:
            self.stats.requests += 1
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if body is None or check_chat_body(body):
            self.stats.bad_requests += 1
            return await self._app(scope, _replay(raw, receive), send)
        outcome = await self._fault(body, fault)
        if isinstance(outcome, Response):
            return await outcome(scope, receive, send)
        if not self.honor_schema:
            body = {k: v for k, v in body.items() if k not in ("response_format", "guided_json")}
        if outcome != body.get("n", 1) or not self.honor_schema:
            raw = json.dumps({**body, "n": outcome}).encode()
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(raw)).encode())]}

        async def counted(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200 and not probe:
                self.stats.completed += 1
                self.stats.choices_returned += outcome
            await send(message)

        await self._app(scope, _replay(raw, receive), counted)

    async def _fault(self, body: dict[str, Any], fault: str | None) -> Response | int:
        """The response a fault gives instead of the app's, or the `n` to ask the app for."""
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
            return error_response(429, message, "requests", "rate_limit_exceeded", **headers)
        if fault == "hang" and not await self._sleep(self.faults.hang_seconds):
            return error_response(503, "the server is shutting down", "server_error")
        if not await self._sleep(self.latency):
            return error_response(503, "the server is shutting down", "server_error")
        if fault == "500":
            return error_response(
                500, "The server had an error (fault injected by the fake server).", "server_error"
            )
        if fault == "short":
            n -= 1
        if fault == "malformed":  # the script is not asked: a lost answer does not use up its turn
            answer = completion_body(body, [""] * n, served_name=self.model,
                                     completion_id=f"chatcmpl-fake-{next(self._ids)}")  # fmt: skip
            text = json.dumps(answer)
            return Response(text[: len(text) // 2], media_type="application/json")
        return int(n)

    # -- running -----------------------------------------------------------------------------------------

    def server(self, config: uvicorn.Config) -> uvicorn.Server:
        """A uvicorn server for this app that ends in-flight hangs as soon as it starts shutting down."""
        return _Uvicorn(config, self._wake_sleepers)

    @contextmanager
    def running(
        self,
        *,
        log_level: str = "warning",
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        port: int = 0,
    ) -> Iterator[str]:
        """Serve on 127.0.0.1 (`port`, or a free one) in a background thread; yields the base URL
        `http://.../v1`."""
        with serving(self, make_server=self.server, log_level=log_level, start_timeout=start_timeout,
                     stop_timeout=stop_timeout, port=port) as root:  # fmt: skip
            yield f"{root}/v1"

    def serve(self, host: str, port: int, *, log_level: str = "info") -> None:
        """Serve in the foreground until interrupted."""
        config = uvicorn.Config(
            self, host=host, port=port, log_level=log_level, lifespan="on", timeout_graceful_shutdown=2
        )
        self.server(config).run()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake server in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python tests/fake_openai.py", description="A fake OpenAI-compatible chat server, with faults."
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
    add_key_option(parser)
    args = parser.parse_args(argv)
    key = required_key(parser, args)
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
    fake.serve(args.host, args.port)


if __name__ == "__main__":
    main()
