"""The runs dashboard: its JSON API over real HTTP, path safety, and the page in a real browser."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from implement.config import Config
from implement.eval.rundir import RunDir
from implement.eval.runner import evaluate, run_summary
from implement.jsonl import read_jsonl
from implement.serve.dashboard import dashboard_router
from servers import serving

CHROMIUM = Path("/usr/bin/chromium")


def make_config(data_root: Path, agent: str, trials: int) -> Config:
    config = Config()
    config.environment.data_dir = str(data_root)
    config.environment.split = "tiny"
    config.environment.max_steps = 12
    config.evaluation.agent = agent  # implement: planner policy, symbolic world model (the defaults)
    config.evaluation.trials = trials
    config.evaluation.parallel = 2
    return config


@pytest.fixture(scope="module")
def runs_root(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with two finished runs on the built games: `implement` (2 trials) and `random`."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMPLEMENT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "dashboard-translations"))
        asyncio.run(evaluate(make_config(data_root, "implement", 2), root / "implement-tiny"))
        asyncio.run(evaluate(make_config(data_root, "random", 1), root / "random-tiny"))
    return root


@pytest.fixture(scope="module")
def base_url(runs_root: Path) -> Iterator[str]:
    """The dashboard over `runs_root`, served by uvicorn on a free local port in a thread."""
    app = FastAPI()
    app.include_router(dashboard_router([runs_root]))
    with serving(app, ready_path="/") as url:
        yield url


def get(base_url: str, path: str) -> tuple[int, str, Any]:
    """GET `path` sent exactly as written (no client-side normalization of `..`): status, type, body."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode()
    kind = response.getheader("content-type", "")
    connection.close()
    return response.status, kind, json.loads(body) if kind.startswith("application/json") else body


def game_path(game_id: str) -> str:
    return "/".join(quote(part, safe="") for part in game_id.split("/"))


# ------------------------------------------------------------------ API


def test_runs_list(base_url: str, runs_root: Path) -> None:
    status, _, runs = get(base_url, "/api/runs")
    assert status == 200
    by_id = {r["id"]: r for r in runs}
    assert set(by_id) == {"implement-tiny", "random-tiny"}
    row = by_id["implement-tiny"]
    summary = run_summary(RunDir(runs_root / "implement-tiny"))
    assert (row["agent"], row["policy"], row["world_model"], row["split"]) == (
        "implement",
        "planner",
        "symbolic",
        "tiny",
    )
    assert row["games"] == summary["games"] == 6 and row["trials"] == 2
    assert row["sr_at"] == [summary["sr_at"]["1"], summary["sr_at"]["2"]]
    assert row["sr_final"] == summary["sr_at"]["2"] > 0
    assert row["steps_per_success"] == summary["steps_per_success"]
    assert row["finished_episodes"] == len(RunDir(runs_root / "implement-tiny").episodes())
    assert set(row["usage"]) == {"llm_calls", "prompt_tokens", "completion_tokens", "cost"}
    assert row["started_at"] and row["complete"] is True
    random_row = by_id["random-tiny"]
    assert (random_row["agent"], random_row["policy"], random_row["world_model"]) == ("random", None, None)
    assert len(random_row["sr_at"]) == 1


def test_run_detail(base_url: str, runs_root: Path) -> None:
    status, _, run = get(base_url, "/api/runs/implement-tiny")
    assert status == 200
    assert run["summary"] == run_summary(RunDir(runs_root / "implement-tiny"))
    recorded = RunDir(runs_root / "implement-tiny").episodes()
    assert len(run["episodes"]) == len(recorded) == run["finished_episodes"]
    assert {(e["game"], e["trial"]) for e in run["episodes"]} == {(e["game"], e["trial"]) for e in recorded}
    assert all(isinstance(e["won"], bool) and e["steps"] >= 0 and e["finished"] for e in run["episodes"])
    assert run["config"]["evaluation"]["agent"] == "implement"


def test_episode_shows_imagination_beside_what_happened(base_url: str, runs_root: Path) -> None:
    episode = RunDir(runs_root / "implement-tiny").episodes()[0]
    status, _, view = get(
        base_url, f"/api/runs/implement-tiny/episodes/{episode['trial']}/{game_path(episode['game'])}"
    )
    assert status == 200
    lines = read_jsonl(
        runs_root
        / "implement-tiny"
        / "steps"
        / f"trial_{episode['trial']:02d}"
        / (episode["game"].replace("/", "__") + ".jsonl")
    )
    assert view["game"] == episode["game"] and view["goal"] == episode["goal"]
    assert view["episode"]["won"] == episode["won"]
    assert view["initial"]["observation"] == lines[0]["observation"]["text"]
    assert len(view["steps"]) == len(lines) - 1 == episode["steps"]
    for step, line, before in zip(view["steps"], lines[1:], lines, strict=False):
        assert step["outcome"]["text"] == line["observation"]["text"]
        assert step["seen"] == before["observation"]["text"]
        assert step["decision"]["action"] == line["decision"]["action"]
        assert step["state"] == line["state"]
    step = view["steps"][0]
    imagined = [b for r in step["rounds"] for b in r["imagined"]]
    assert imagined, "the planner imagines its proposals with the symbolic world model"
    assert all(b["text"] and 0 <= b["p_changes"] <= 1 and b["samples"] >= 1 for b in imagined)
    assert step["chosen"]["action"] == step["decision"]["action"]
    assert step["actual"]["location"] == lines[1]["state"]["agent_location"]
    assert 0 <= step["actual"]["p_location"] <= 1


def test_episode_of_an_agent_without_imagination(base_url: str, runs_root: Path) -> None:
    episode = RunDir(runs_root / "random-tiny").episodes()[0]
    status, _, view = get(base_url, f"/api/runs/random-tiny/episodes/1/{game_path(episode['game'])}")
    assert status == 200
    assert view["steps"] and all(s["rounds"] == [] and s["chosen"] is None for s in view["steps"])
    assert "p_location" not in view["steps"][0]["actual"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/nope",
        "/api/runs/..",
        "/api/runs/%2e%2e",
        "/api/runs/..%2F..%2Fetc",
        "/api/runs/implement-tiny/episodes/1/..%2F..%2Frun.json",
        "/api/runs/implement-tiny/episodes/1/../../run.json",
        "/api/runs/implement-tiny/episodes/1/no-such-game",
        "/api/runs/implement-tiny/episodes/9/tiny/x",
        "/api/runs/%2Fetc/episodes/1/passwd",
    ],
)
def test_unknown_or_escaping_ids_are_404(base_url: str, path: str) -> None:
    status, kind, body = get(base_url, path)
    assert status == 404, body
    assert kind.startswith("application/json") and isinstance(body["detail"], str)
    assert "config" not in json.dumps(body)  # nothing of a run.json leaks


def test_not_found_messages_say_what_is_missing(base_url: str, runs_root: Path) -> None:
    _, _, body = get(base_url, "/api/runs/nope")
    assert body["detail"] == "no run 'nope'; known runs: implement-tiny, random-tiny"
    game = RunDir(runs_root / "random-tiny").episodes()[0]["game"]
    _, _, body = get(base_url, f"/api/runs/random-tiny/episodes/2/{game_path(game)}")
    assert body["detail"] == f"run 'random-tiny' has no steps for game {game!r} in trial 2"


def test_new_runs_appear_without_restart(base_url: str, runs_root: Path) -> None:
    shutil.copytree(runs_root / "random-tiny", runs_root / "random-copy")
    try:
        _, _, runs = get(base_url, "/api/runs")
        assert "random-copy" in {r["id"] for r in runs}
    finally:
        shutil.rmtree(runs_root / "random-copy")


def test_page_and_assets(base_url: str) -> None:
    status, kind, page = get(base_url, "/")
    assert status == 200 and kind.startswith("text/html")
    assert 'src="static/dashboard.js"' in page and "http" not in page  # nothing fetched from elsewhere
    for name, expected in (("dashboard.js", "javascript"), ("dashboard.css", "text/css")):
        status, kind, body = get(base_url, f"/static/{name}")
        assert status == 200 and expected in kind and body
    assert get(base_url, "/static/..%2Fdashboard.py")[0] == 404


def test_single_run_dirs_and_unreadable_runs(runs_root: Path, tmp_path: Path) -> None:
    """A path may be a run itself; a broken run.json gives an error row, not a failed listing."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    app = FastAPI()
    app.include_router(dashboard_router([runs_root / "implement-tiny", tmp_path, tmp_path / "missing"]))
    client = TestClient(app)
    runs = {r["id"]: r for r in client.get("/api/runs").json()}
    assert set(runs) == {"implement-tiny", "broken"}
    assert "not a run directory" in runs["broken"]["error"]
    response = client.get("/api/runs/broken")
    assert response.status_code == 500 and "cannot be read" in response.json()["detail"]


def test_partial_run_and_failed_episode(runs_root: Path, tmp_path: Path) -> None:
    """A run being played: an episode without its line yet is listed as playing; an error line is shown."""
    path = tmp_path / "partial"
    shutil.copytree(runs_root / "implement-tiny", path)
    lines = (path / "episodes.jsonl").read_text().splitlines(keepends=True)
    (path / "episodes.jsonl").write_text("".join(lines[1:]))
    playing = json.loads(lines[0])
    steps = path / "steps" / f"trial_{playing['trial']:02d}" / (playing["game"].replace("/", "__") + ".jsonl")
    with steps.open("a") as f:
        f.write(json.dumps({"error": "EnvError: boom", "traceback": "Traceback...\nEnvError: boom"}) + "\n")
    app = FastAPI()
    app.include_router(dashboard_router([path]))
    client = TestClient(app)
    run = client.get("/api/runs/partial").json()
    listed = {(e["game"], e["trial"]): e for e in run["episodes"]}
    assert listed[(playing["game"], playing["trial"])] == {
        "game": playing["game"],
        "task_type": playing["task_type"],
        "trial": playing["trial"],
        "finished": False,
    }
    assert run["finished_episodes"] == len(lines) - 1 and run["complete"] is False
    view = client.get(f"/api/runs/partial/episodes/{playing['trial']}/{game_path(playing['game'])}").json()
    assert view["episode"] is None and len(view["steps"]) == playing["steps"]
    assert view["error"] == {"error": "EnvError: boom", "traceback": "Traceback...\nEnvError: boom"}


# ------------------------------------------------------------------ browser


def test_dashboard_in_a_browser(base_url: str, runs_root: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed in the venv")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    _, _, runs = get(base_url, "/api/runs")
    row = next(r for r in runs if r["id"] == "implement-tiny")
    run = RunDir(runs_root / "implement-tiny")
    episode = run.episodes()[0]
    _, _, view = get(
        base_url, f"/api/runs/implement-tiny/episodes/{episode['trial']}/{game_path(episode['game'])}"
    )
    step = next(s for s in view["steps"] if s["chosen"])

    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base_url + "/")

        # The runs table, with SR@k per trial.
        runs_row = page.locator('#runs tr[data-run="implement-tiny"]')
        runs_row.wait_for()
        assert "SR@k" in page.locator("#runs thead").inner_text()
        cells = runs_row.locator("td.srk span").all_inner_texts()
        assert cells == [f"{round(1000 * v) / 10:g}%" for v in row["sr_at"]]
        assert page.locator("svg.plot polyline").count() == 2  # one line per run

        page.screenshot(path=str(tmp_path / "dashboard-runs.png"), full_page=True)

        # Into the run: its episodes.
        runs_row.locator("a").click()
        episode_row = page.locator(
            f'#episodes tr[data-game="{episode["game"]}"][data-trial="{episode["trial"]}"]'
        )
        episode_row.wait_for()
        assert ("won" if episode["won"] else "lost") in episode_row.inner_text()
        page.screenshot(path=str(tmp_path / "dashboard-run.png"), full_page=True)

        # Into the episode: a step's imagined outcomes beside what happened, and the decision.
        episode_row.locator("a").click()
        card = page.locator(f"#step-{step['step']}")
        card.wait_for()
        imagined, actual = card.locator(".imagined"), card.locator(".actual")
        chosen_row = imagined.locator("tr.chosen")
        assert chosen_row.is_visible()
        assert step["chosen"]["text"] in chosen_row.inner_text()
        assert f"{round(1000 * step['chosen']['p_changes']) / 10:g}%" in chosen_row.inner_text()
        assert step["outcome"]["text"] in actual.locator("pre.observation").inner_text()
        left, right = imagined.bounding_box(), actual.bounding_box()
        assert left and right
        assert left["x"] + left["width"] <= right["x"], "imagined and actual are side by side"
        assert left["y"] < right["y"] + right["height"] and right["y"] < left["y"] + left["height"]
        decision = card.locator(".decision").inner_text()
        assert step["decision"]["action"] in decision and step["decision"]["reasoning"] in decision

        # The parsed state is folded away until asked for.
        parsed = card.locator("details.parsed")
        assert not parsed.locator(".state").is_visible()
        parsed.locator("summary").click()
        assert parsed.locator(".state").is_visible()

        screenshot = tmp_path / "dashboard.png"
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert not errors, errors
    assert screenshot.stat().st_size > 10_000
    for name in ("dashboard.png", "dashboard-runs.png", "dashboard-run.png"):  # for a person to look at
        shutil.copy(tmp_path / name, Path("/tmp") / name)


def test_dashboard_command_serves_the_runs(runs_root: Path) -> None:
    """`implement dashboard RUN_DIR` as a user starts it; a missing directory is one clear error."""
    import subprocess
    import sys

    from servers import free_port, wait_for_http

    missing = subprocess.run([sys.executable, "-m", "implement.cli", "dashboard", str(runs_root / "nope")],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert missing.returncode == 1 and "not a directory" in missing.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "implement.cli", "dashboard", str(runs_root), "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=60, alive=lambda: server.poll() is None)
        status, _, runs = get(f"http://127.0.0.1:{port}", "/api/runs")
        assert status == 200 and {r["agent"] for r in runs} == {"implement", "random"}
    finally:
        server.terminate()
        server.wait(30)
