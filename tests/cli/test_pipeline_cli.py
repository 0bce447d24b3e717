"""The training pipeline as a user runs it: `implement` subcommands and the seed's scripts."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]
SCRIPTS = Path(__file__).parents[2] / "scripts"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def failed_cleanly(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 1 with one `error:` line that says `message`, never a traceback."""
    assert result.returncode == 1, result.stderr
    assert "error:" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_collect_prepare_curate_extract_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    raw, prepared, curated = tmp_path / "raw", tmp_path / "prepared", tmp_path / "curated"
    collected = json.loads(ok(cli("collect", "--split", "tiny", "--num-tasks", "4", "--out", str(raw),
                                  "--max-steps", "10", "--batch-size", "2", "--json")).stdout)  # fmt: skip
    assert collected["trajectories"] == 4 and collected["transitions"] == 40
    again = cli("collect", "--split", "tiny", "--num-tasks", "4", "--out", str(raw), "--max-steps", "10")
    failed_cleanly(again, "--resume")
    resumed = ok(cli("collect", "--split", "tiny", "--num-tasks", "4", "--out", str(raw), "--max-steps", "10",
                     "--resume", "--json"))  # fmt: skip
    assert json.loads(resumed.stdout)["trajectories"] == 4  # nothing left to play

    report = json.loads(ok(cli("prepare", "--data-dirs", str(raw), "--out", str(prepared), "--json")).stdout)
    assert report == {"trajectories": 4, "samples": 40, "games": 4, "skipped": 0, "dialect": "implement",
                      "out": str(prepared)}  # fmt: skip
    samples = prepared / "training_samples_metaicl.jsonl"
    report = json.loads(ok(cli("curate", "--input", str(samples), "--out", str(curated), "--json")).stdout)
    assert (report["perception"], report["prediction"]) == (40, 40)

    run = tmp_path / "run"
    ok(cli("evaluate", "--agent", "random", "--split", "tiny", "--games", "2", "--trials", "1",
           "--max-steps", "6", "--out", str(run)))  # fmt: skip
    extracted = json.loads(ok(cli("extract-conditions", "--eval-dir", str(run), "--out", str(tmp_path / "c"),
                                  "--json")).stdout)  # fmt: skip
    assert extracted["games"] == 2
    ok(cli("evaluate", "--split", "tiny", "--games", "2", "--trials", "1", "--max-steps", "6",
           "--conditions", str(tmp_path / "c"), "--out", str(tmp_path / "run2")))  # fmt: skip


def test_bad_pipeline_input_is_one_clear_error(cli: Cli, tmp_path: Path) -> None:
    failed_cleanly(cli("prepare", "--data-dirs", str(tmp_path / "nope"), "--out", str(tmp_path)), "not found")
    failed_cleanly(
        cli("curate", "--input", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)), "not found"
    )
    failed_cleanly(cli("extract-conditions", "--eval-dir", str(tmp_path), "--out", str(tmp_path / "c")),
                   "not an evaluation run")  # fmt: skip
    failed_cleanly(cli("collect", "--split", "nosuchsplit", "--out", str(tmp_path / "x")), "nosuchsplit")
    failed_cleanly(cli("collect", "--split", "tiny", "--num-tasks", "0", "--out", str(tmp_path / "y")),
                   "command line flag --num-tasks: collect.num_tasks must be >= 1, got 0")  # fmt: skip
    no_conditions = cli(
        "evaluate", "--split", "tiny", "--conditions", str(tmp_path), "--out", str(tmp_path / "r")
    )
    failed_cleanly(no_conditions, "object_lists.json not found")
    failed_cleanly(
        cli("serve-wm", "--model", str(tmp_path / "none"), "--print"), "not a checkpoint directory"
    )


def test_collect_reads_its_settings_from_a_config_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "collect.toml"
    path.write_text("[collect]\nsplit = 'tiny'\nnum_tasks = 2\nmax_steps = 3\nbatch_size = 1\nseed = 5\n")
    out = tmp_path / "raw"
    counts = json.loads(ok(cli("collect", "--config", str(path), "--out", str(out), "--json")).stdout)
    assert counts["trajectories"] == 2 and counts["transitions"] == 6
    meta = json.loads((out / "collect.json").read_text())
    assert (meta["split"], meta["num_tasks"], meta["max_steps"], meta["seed"]) == ("tiny", 2, 3, 5)
    assert meta["policy"] == {"expert": 0.2, "admissible": 0.4, "seen": 0.4}
    path.write_text("[collect]\nexpert = 0.5\n")
    failed_cleanly(cli("collect", "--config", str(path), "--out", str(tmp_path / "y")), "must sum to 1")


def test_train_refuses_bad_settings_before_loading_anything(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[training]\nlearning_rate = 0\n")
    args = ("train", "--data-dir", str(tmp_path / "none"), "--output-dir", str(tmp_path / "wm"))
    failed_cleanly(cli(*args, "--config", str(path)), f"{path}: training.learning_rate must be > 0, got 0")
    failed_cleanly(cli(*args, "--max-length", "0"),
                   "command line flag --max-length: training.max_length must be >= 1, got 0")  # fmt: skip
    variable = "IMPLEMENT_TRAINING__SAVE_STEPS"
    failed_cleanly(
        cli(*args, env={variable: "0"}), f"environment variable {variable}: training.save_steps must be >= 1"
    )
    assert not (tmp_path / "wm").exists()


def test_serve_wm_prints_the_papers_vllm_command_for_an_adapter(cli: Cli, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-VL-7B"})
    )
    printed = ok(cli("serve-wm", "--model", str(adapter), "--tensor-parallel-size", "4", "--print")).stdout
    expected = [
        "vllm.entrypoints.openai.api_server",
        "--model Qwen/Qwen2.5-VL-7B",
        "--enable-lora",
        f"--lora-modules wm_metaicl={adapter}",
        "--tensor-parallel-size 4",
        "--port 8002",
        "--gpu-memory-utilization 0.85",
        "--enable-prefix-caching",
        "--max-num-batched-tokens 8192",
    ]
    assert [part for part in expected if part not in printed] == []
    merged = tmp_path / "merged"
    merged.mkdir()
    printed = ok(cli("serve-wm", "--model", str(merged), "--print")).stdout
    assert f"--model {merged} --served-model-name wm_metaicl" in printed and "--enable-lora" not in printed


def _script(name: str, *args: str, data_root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "ALFWORLD_DATA": str(data_root)},
    )


@pytest.mark.slow
def test_the_seed_scripts_accept_the_seed_readmes_flags(data_root: Path, tmp_path: Path) -> None:
    def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return ok(_script(name, *args, data_root=data_root, cwd=tmp_path))

    for raw in ("raw1", "raw2"):
        run("collect_data.py", "--alfworld_root", str(data_root), "--output_dir", raw, "--batch_size", "5",
            "--num_tasks", "3", "--split", "tiny")  # fmt: skip
    run("prepare_metaicl_data.py", "--data_dirs", "raw1", "raw2", "--output_dir", "prepared")
    assert (tmp_path / "prepared" / "conditions" / "object_lists.json").is_file()
    run("curate_data.py", "--input_file", "prepared/training_samples_metaicl.jsonl", "--data_dir", "prepared",
        "--output_dir", "curated")  # fmt: skip
    assert (tmp_path / "curated" / "curated_samples_prediction.jsonl").is_file()
    if importlib.util.find_spec("trl") is not None:
        run(
            "train_world_model.py",
            "--data_dir",
            "curated",
            "--output_dir",
            "wm",
            "--num_epochs",
            "3",
            "--base_model",
            "smollm2-135m",
            "--max_steps",
            "1",
            "--batch_size",
            "1",
            "--gradient_accumulation",
            "1",
        )
        assert json.loads((tmp_path / "wm" / "implement_train.json").read_text())["steps"] == 1
    run(
        "evaluate.py",
        "--alfworld_root",
        str(data_root),
        "--output_dir",
        "results",
        "--split",
        "tiny",
        "--games",
        "2",
        "--max_trials",
        "2",
        "--batch_size",
        "2",
    )
    evaluation = json.loads((tmp_path / "results" / "run.json").read_text())["config"]["evaluation"]
    assert (evaluation["trials"], evaluation["parallel"]) == (2, 2)  # --max_trials, --batch_size
    run("extract_metaicl_conditions.py", "--eval_dir", "results", "--output_dir", "test_conditions")
    assert json.loads((tmp_path / "test_conditions" / "object_lists.json").read_text())
    bad = _script("curate_data.py", "--input_file", "nope.jsonl", "--output_dir", "c", data_root=data_root,
                  cwd=tmp_path)  # fmt: skip
    failed_cleanly(bad, "not found")


@pytest.mark.slow
def test_collected_data_trains_a_world_model_that_serves_and_evaluates(
    cli: Cli, tmp_path: Path, shared_cache: Path
) -> None:
    """The whole chain on the built games: collect → prepare → curate → train → wm eval, in process
    (`hf:`) and behind `serve-wm` over HTTP."""
    pytest.importorskip("trl")
    from servers import free_port, wait_for_http

    ok(
        cli(
            "collect",
            "--split",
            "tiny",
            "--num-tasks",
            "2",
            "--max-steps",
            "4",
            "--out",
            str(tmp_path / "raw"),
        )
    )
    ok(cli("prepare", "--data-dirs", str(tmp_path / "raw"), "--out", str(tmp_path / "prepared")))
    samples = tmp_path / "prepared" / "training_samples_metaicl.jsonl"
    ok(cli("curate", "--input", str(samples), "--out", str(tmp_path / "curated")))
    adapter = tmp_path / "adapter"
    train = (
        "train",
        "--data-dir",
        str(tmp_path / "curated"),
        "--output-dir",
        str(adapter),
        "--base-model",
        "smollm2-135m",
        "--max-steps",
        "2",
        "--batch-size",
        "1",
        "--gradient-accumulation",
        "1",
        "--json",
    )
    trained = json.loads(ok(cli(*train)).stdout)
    assert trained["steps"] == 2 and trained["train_samples"] + trained["eval_samples"] == 16
    assert trained["world_model_spec"] == f"hf:{adapter}"

    evaluation = ("wm", "eval", "--split", "tiny", "--limit", "1", "--samples", "1", "--max-tokens", "8",
                  "--no-search", "--no-metaicl", "--json")  # fmt: skip
    in_process = json.loads(ok(cli(*evaluation, "--world-model", f"hf:{adapter}")).stdout)
    assert in_process["model_stats"]["requests"] > 0
    assert in_process["llm_usage"]["completion_tokens"] > 0

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "implement.cli", "serve-wm", "--model", str(adapter),
         "--backend", "transformers", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "IMPLEMENT_CACHE_DIR": str(shared_cache)},
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=120, alive=lambda: server.poll() is None)
        spec = f"openai:wm_metaicl@http://127.0.0.1:{port}/v1"
        served = json.loads(
            ok(cli(*evaluation, "--world-model", spec, env={"OPENAI_API_KEY": "unused"})).stdout
        )
    finally:
        server.terminate()
        server.wait(30)
    # the same model, greedy where the outcome is known and seeded where sampled: the same answers
    assert served["model_stats"] == in_process["model_stats"]
    for key in ("deterministic_exact_match", "failure_prediction_accuracy", "contents_log_likelihood"):
        assert served[key] == in_process[key], key
