"""The embedded SmolLM2-135M: in process, and behind llama.cpp's OpenAI-compatible server over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytest.importorskip("llama_cpp", reason="the `local` extra (llama-cpp-python) is not installed")

from implement.llm import LLMError, make_chat_model
from implement.llm.local import embedded_model_path
from servers import free_port, wait_for_http

pytestmark = pytest.mark.slow
QUESTION = [{"role": "user", "content": "Name one fruit."}]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` with the embedded model on a free loopback port."""
    port = free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")  # a pipe would fill up and block it
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path("smollm2-135m")),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
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


def test_openai_backend_against_llama_cpp_server(llama_server: str) -> None:
    model = make_chat_model(f"openai:smollm2@{llama_server}")
    answers = asyncio.run(model.chat(QUESTION, n=3, temperature=1.0, max_tokens=12))
    assert len(answers) == 3 and all(a.text.strip() for a in answers)
    assert model.usage.prompt_tokens > 0 and model.usage.completion_tokens > 0
    assert model.usage.requests >= 1


def test_llm_check_against_llama_cpp_server(llama_server: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "implement.cli", "llm", "check", f"openai:smollm2@{llama_server}", "--json"],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "smollm2" in report["served_models"]
    assert report["reply"] and report["completion_tokens"] > 0
    assert isinstance(report["n_honoured"], bool | str)


def test_local_backend_in_process() -> None:
    model = make_chat_model("local:smollm2-135m")
    answers = asyncio.run(model.chat(QUESTION, n=2, temperature=1.0, max_tokens=12))
    assert len(answers) == 2 and all(a.text.strip() for a in answers)
    assert model.usage.requests == 2 and model.usage.completion_tokens > 0
