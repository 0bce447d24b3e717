"""Shared fixtures: tiny ALFWorld games built by the tests, the real data where installed, and
llama.cpp's server on the embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alfgames import standard_games
from implement.envs.games import DATA_VERSION, Game, find_games
from implement.errors import DataError
from servers import llama_cpp_server

TINY_SPLIT = "tiny"


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ALFWorld data root holding the built games as the custom split `tiny`."""
    root = tmp_path_factory.mktemp("alfworld")
    standard_games(root / DATA_VERSION / TINY_SPLIT)
    return root


@pytest.fixture(scope="session")
def tiny_games(data_root: Path) -> list[Game]:
    return find_games(TINY_SPLIT, data_root)


@pytest.fixture(scope="session")
def valid_seen() -> list[Game]:
    """The real valid_seen games; the test is skipped where they are not installed."""
    try:
        return find_games("valid_seen")
    except DataError as exc:
        pytest.skip(f"ALFWorld valid_seen data not installed ({exc})")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "sas-cache"


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the embedded SmolLM2 (`smollm2`), for the session."""
    pytest.importorskip("llama_cpp", reason="the `local` extra (llama-cpp-python) is not installed")
    with llama_cpp_server(tmp_path_factory.mktemp("llama")) as url:
        yield url


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One translation cache for the session's CLI subprocesses."""
    return tmp_path_factory.mktemp("implement-cache")


@pytest.fixture
def cli(
    data_root: Path, shared_cache: Path, tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `implement ARGS` in a subprocess as a user would (in tmp_path), on the built games' data root."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        base = {"ALFWORLD_DATA": str(data_root), "IMPLEMENT_CACHE_DIR": str(shared_cache)}
        return subprocess.run(
            [sys.executable, "-m", "implement.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
            env={**os.environ, **base, **(env or {})},
        )

    return run
