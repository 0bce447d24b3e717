"""`implement` as a user runs it: one subprocess smoke test (at least) per subcommand, on the built games."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from implement.config import Config
from implement.envs.games import DATA_VERSION, TASK_TYPES, split_dir
from implement.eval.rundir import default_run_dir

Cli = Callable[..., subprocess.CompletedProcess[str]]
SECRET = "sk-cli-test-secret-42"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def failed_cleanly(result: subprocess.CompletedProcess[str]) -> str:
    """The exit is 1 with a one-line error and no traceback; returns that line."""
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def expert_run(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`implement evaluate --agent expert --split tiny --trials 1 --json`, run once for the module."""
    out = tmp_path_factory.mktemp("cli-run") / "run"
    env = {**os.environ, "ALFWORLD_DATA": str(data_root), "IMPLEMENT_CACHE_DIR": str(out.parent / "cache")}
    command = [
        "evaluate",
        "--agent",
        "expert",
        "--split",
        "tiny",
        "--trials",
        "1",
        "--json",
        "--out",
        str(out),
    ]
    result = ok(
        subprocess.run(
            [sys.executable, "-m", "implement.cli", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    )
    return out, json.loads(result.stdout)  # stdout is exactly one JSON object


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["data", "config", "evaluate", "report"]),
        (("data",), ["install", "list"]),
        (
            ("evaluate",),
            ["--agent", "--split", "--trials", "--parallel", "--max-steps", "--resume", "--no-retry-errors"],
        ),
    ],
)
def test_help(cli: Cli, args: tuple[str, ...], expected: list[str]) -> None:
    result = ok(cli(*args, "--help"))
    for word in expected:
        assert word in result.stdout


def test_data_list_json(cli: Cli) -> None:
    listing = json.loads(ok(cli("data", "list", "--split", "tiny", "--json")).stdout)
    assert listing == {"split": "tiny", "games": 6, "task_types": dict.fromkeys(TASK_TYPES, 1)}


def test_data_list_table(cli: Cli) -> None:
    result = ok(cli("data", "list", "--split", "tiny", env={"COLUMNS": "120"}))
    assert "tiny: 6 games" in result.stdout
    assert all(task_type in result.stdout for task_type in TASK_TYPES)


def test_data_list_on_a_missing_split_says_how_to_install(cli: Cli, data_root: Path) -> None:
    line = failed_cleanly(cli("data", "list", "--split", "valid_seen"))
    assert "implement data install" in line
    assert str(data_root / DATA_VERSION / "valid_seen") in line


def test_data_install_from_archives(cli: Cli, data_root: Path, tmp_path: Path) -> None:
    archives = tmp_path / "archives"
    archives.mkdir()
    with tarfile.open(archives / "tiny.tar.xz", "w:xz") as tar:
        tar.add(split_dir("tiny", data_root), arcname=f"{DATA_VERSION}/tiny")
    root = tmp_path / "alfworld"
    env = {"ALFWORLD_DATA": str(root)}

    result = ok(cli("data", "install", "--from", str(archives), "--splits", "tiny", env=env))
    assert "tiny: 6 games" in result.stderr
    assert len(list((root / DATA_VERSION / "tiny").glob("*/*/game.tw-pddl"))) == 6
    listing = json.loads(ok(cli("data", "list", "--split", "tiny", "--json", env=env)).stdout)
    assert listing["games"] == 6

    line = failed_cleanly(cli("data", "install", "--from", str(archives), "--splits", "nope", env=env))
    assert "nope.tar.xz not found" in line


def test_config_shows_the_table_and_masks_the_key(cli: Cli) -> None:
    result = ok(
        cli("config", env={"OPENAI_API_KEY": SECRET, "IMPLEMENT_EVALUATION__TRIALS": "3", "COLUMNS": "160"})
    )
    assert SECRET not in result.stdout + result.stderr
    assert re.search(r"llm\.api_key\W+'\*\*\*'", result.stdout)
    assert re.search(r"evaluation\.trials\W+3\W", result.stdout)
    assert re.search(r"world_model\.mc_samples\W+10\W", result.stdout)


def test_config_prints_the_paper_profile(cli: Cli) -> None:
    result = ok(cli("config", "--profile", "paper", env={"COLUMNS": "200"}))
    assert re.search(r"profile\W+'paper'", result.stdout)
    assert re.search(r"environment\.split\W+'valid_unseen'", result.stdout)
    assert re.search(r"evaluation\.seed\W+928\W", result.stdout)
    assert re.search(r"policy\.final_call\W+True\W", result.stdout)
    assert failed_cleanly(cli("config", "--profile", "nope")) == (
        "error: command line flag --profile: unknown profile 'nope'; expected one of: implement, paper"
    )


def test_config_error_is_one_clean_line(cli: Cli, tmp_path: Path) -> None:
    line = failed_cleanly(cli("config", env={"IMPLEMENT_EVALUATION__TRIALS": "abc"}))
    expected = "environment variable IMPLEMENT_EVALUATION__TRIALS: evaluation.trials expects int, got 'abc'"
    assert line == f"error: {expected}"
    path = tmp_path / "bad.toml"
    path.write_text("[evaluaton]\n")
    line = failed_cleanly(cli("config", "--config", str(path)))
    assert "unknown section 'evaluaton'" in line and "evaluation" in line
    path.write_text("[evaluation]\ntrails = 2\n")
    line = failed_cleanly(cli("config", "--config", str(path)))
    assert "unknown field 'trails' in [evaluation]" in line  # brackets are not taken for markup


def test_config_lists_the_allowed_ranges(cli: Cli) -> None:
    result = ok(cli("config", env={"COLUMNS": "200"}))
    assert re.search(r"world_model\.mc_samples\W+10\W+>= 1\W", result.stdout)
    assert re.search(r"api\.port\W+30972\W+>= 1 and <= 65535\W", result.stdout)
    assert "collect.num_tasks" in result.stdout and "training.max_length" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            (),
            {"IMPLEMENT_WORLD_MODEL__MC_SAMPLES": "0"},
            "error: environment variable IMPLEMENT_WORLD_MODEL__MC_SAMPLES: "
            "world_model.mc_samples must be >= 1, got 0",
        ),
        (("--trials", "0"), {}, "error: command line flag --trials: evaluation.trials must be >= 1, got 0"),
        (
            ("--parallel", "-1"),
            {},
            "error: command line flag --parallel: evaluation.parallel must be >= 1, got -1",
        ),
    ],
)
def test_evaluate_refuses_out_of_range_settings_before_any_episode(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    out = tmp_path / "run"
    line = failed_cleanly(
        cli("evaluate", "--agent", "expert", "--split", "tiny", "--out", str(out), *args, env=env)
    )
    assert line == expected
    assert not out.exists()


def test_evaluate_refuses_an_out_of_range_config_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[policy]\nmax_proposals = 0\n")
    line = failed_cleanly(
        cli("evaluate", "--split", "tiny", "--config", str(path), "--out", str(tmp_path / "r"))
    )
    assert line == f"error: {path}: policy.max_proposals must be >= 1, got 0"
    assert not (tmp_path / "r").exists()


def test_evaluate_writes_to_the_configured_run_directory(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[evaluation]\nagent = 'expert'\ngames = 1\ntrials = 1\nout = 'from-config'\n")
    summary = json.loads(ok(cli("evaluate", "--split", "tiny", "--config", str(path), "--json")).stdout)
    assert summary["run_dir"] == "from-config" and summary["episodes"] == 1
    assert (tmp_path / "from-config" / "run.json").is_file()


def test_default_run_directory_names_agent_split_and_time() -> None:
    config = Config()
    config.evaluation.agent, config.environment.split = "react", "tiny"
    assert re.fullmatch(r"runs/react-tiny-\d{8}-\d{6}", default_run_dir(config).as_posix())


def test_evaluate_expert_json(expert_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = expert_run
    assert summary["sr_at"] == {"1": 1.0}
    assert summary["episodes"] == 6 and summary["games"] == 6 and summary["complete"] is True
    assert set(summary["by_task_type"]) == set(TASK_TYPES)
    assert all(row["sr_at"] == {"1": 1.0} for row in summary["by_task_type"].values())
    assert isinstance(summary["steps_per_success"], float) and summary["steps_per_success"] > 1
    assert summary["steps_ratio_to_walkthrough"] == 1.0
    assert summary["by_trial"] == [
        {"trial": 1, "attempted": 6, "solved": 6, "steps_ratio_to_walkthrough": 1.0}
    ]
    assert summary["run_dir"] == str(out)
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 6


def test_evaluate_unknown_agent_lists_the_valid_ones(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "run"
    line = failed_cleanly(cli("evaluate", "--agent", "nope", "--split", "tiny", "--out", str(out)))
    assert "unknown agent 'nope'" in line and "expert, implement, random" in line
    assert not out.exists()


def test_evaluate_existing_run_needs_resume(cli: Cli, expert_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = expert_run
    line = failed_cleanly(
        cli("evaluate", "--agent", "expert", "--split", "tiny", "--trials", "1", "--out", str(out))
    )
    assert "--resume" in line


def test_report_json_matches_the_run(cli: Cli, expert_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = expert_run
    report = json.loads(ok(cli("report", str(out), "--json", "--no-html")).stdout)
    assert report["sr_at"] == summary["sr_at"] == {"1": 1.0}
    assert {k: v for k, v in summary.items() if k != "run_dir"} == report


def test_report_writes_a_self_contained_html_page(cli: Cli, expert_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = expert_run
    report = json.loads(ok(cli("report", str(out), "--json")).stdout)
    page = Path(report["html_report"]).read_text()
    assert Path(report["html_report"]) == out / "report.html"
    image = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert image is not None and base64.b64decode(image.group(1)).startswith(b"\x89PNG\r\n")
    assert "<th>SR@1</th>" in page and re.search(r"<td>all</td><td>6</td><td>100</td>", page)


def test_report_tables(cli: Cli, expert_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = expert_run
    result = ok(cli("report", str(out), env={"COLUMNS": "160"}))
    assert "SR@1" in result.stdout and "100.0" in result.stdout
    assert re.search(r"all\W+6\W+100\.0", result.stdout)
    assert re.search(r"complete\W+yes", result.stdout)


def test_report_on_a_partial_run(cli: Cli, expert_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "partial"
    shutil.copytree(expert_run[0], out)
    episodes = out / "episodes.jsonl"
    episodes.write_text("".join(episodes.read_text().splitlines(keepends=True)[:2]))

    report = json.loads(ok(cli("report", str(out), "--json")).stdout)
    assert report["complete"] is False
    assert report["episodes"] == 2
    assert report["sr_at"] == {"1": round(2 / 6, 4)}
    text = ok(cli("report", str(out), env={"COLUMNS": "160"})).stdout
    assert "partial" in text


def test_report_on_a_folder_that_is_no_run(cli: Cli, tmp_path: Path) -> None:
    line = failed_cleanly(cli("report", str(tmp_path)))
    assert "is not a run directory" in line


# ---------------------------------------------------------------------------------------------- probe


def without_openai_settings(data_root: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a user who set no key and no endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "IMPLEMENT_LLM__"))}
    return {**env, "ALFWORLD_DATA": str(data_root), "IMPLEMENT_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.parametrize("where", ["openai", "nothing listening"])
def test_evaluate_with_an_unusable_model_fails_in_seconds_before_any_episode(
    data_root: Path, tmp_path: Path, where: str
) -> None:
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    policy, cause = {
        "openai": ("openai:gpt-4o-mini", "no API key is configured; set OPENAI_API_KEY or llm.api_key"),
        "nothing listening": (f"openai:gpt-4o-mini@{url}", "cannot connect: connection refused"),
    }[where]
    out = tmp_path / "run"
    command = ["evaluate", "--policy", policy, "--split", "tiny", "--trials", "1", "--out", str(out)]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "implement.cli", *command], capture_output=True, text=True, timeout=60,
        env=without_openai_settings(data_root, tmp_path), cwd=tmp_path,
    )  # fmt: skip
    seconds = time.monotonic() - started
    line = failed_cleanly(result)
    assert line.startswith("error: model 'gpt-4o-mini' at ") and cause in line
    assert seconds < 15
    assert not out.exists()


def test_serve_with_an_unusable_model_fails_before_serving(data_root: Path, tmp_path: Path) -> None:
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    result = subprocess.run(
        [sys.executable, "-m", "implement.cli", "serve", "--port", str(free_port()), "--policy",
         f"openai:policy@{url}"],
        capture_output=True, text=True, timeout=60, env=without_openai_settings(data_root, tmp_path),
    )  # fmt: skip
    assert failed_cleanly(result) == (
        f"error: model 'policy' at {url}: cannot connect: connection refused (is a server listening there?)"
    )
