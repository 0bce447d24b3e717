"""Real HTTP servers for tests and benchmarks: an ASGI app in a thread, a command in a subprocess,
llama.cpp's server on the embedded model.

Benchmarks import this module too (`bench/` puts `tests/` on the path).
"""

from __future__ import annotations

import http.client
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from implement.llm.base import LLMError

logger = logging.getLogger(__name__)


@contextmanager
def serving(
    app: Any,
    *,
    make_server: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
    log_level: str = "warning",
    start_timeout: float = 10.0,
    stop_timeout: float = 5.0,
    ready_path: str = "/health",
    port: int = 0,
) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (`port`, or a free one) in a background thread, until GET
    `ready_path` answers; yields its root URL `http://127.0.0.1:PORT`."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so; without it every
    # answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
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


@contextmanager
def llama_cpp_server(log_dir: Path, *, n_ctx: int = 4096) -> Iterator[str]:
    """`python -m llama_cpp.server` (llama-cpp-python's OpenAI-compatible server) with the embedded
    SmolLM2-135M, served as `smollm2` on a free loopback port; yields its base URL. Its output goes to
    `log_dir/server.log` (a pipe would fill up and block it)."""
    from implement.llm.local import embedded_model_path

    port = free_port()
    log = (log_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path("smollm2-135m")),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            wait_for_http(f"{url}/models", timeout=120, alive=lambda: process.poll() is None)
        except LLMError as exc:
            raise RuntimeError(f"llama.cpp server did not start ({exc}); its log: {log.name}") from None
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


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
