"""The dashboard of evaluation runs: a JSON API over run directories, and the page that shows it.

- `GET /`: the page (plain HTML, CSS and JS from `static/`, nothing fetched from elsewhere).
- `GET /api/runs`: one row per run (agent, policy, world model, SR@k, steps, LLM usage...).
- `GET /api/runs/{run_id}`: the run's summary (`run_summary`) and its episodes.
- `GET /api/runs/{run_id}/episodes/{trial}/{game_id}`: one episode's steps, shaped for the view:
  per step what the agent imagined (rounds of proposals and beliefs) beside what happened.

Runs are discovered on every request, so runs started after the server show up. A run id is
the run directory's name; ids and game ids are only ever looked up among what was discovered,
never joined to a path, so no request reaches a file outside the runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from implement.errors import ImplementError
from implement.eval.rundir import RUN_FILE, RunDir
from implement.eval.runner import run_summary
from implement.jsonl import read_jsonl

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
_USAGE = ("llm_calls", "prompt_tokens", "completion_tokens", "cost")
_POLICY_AGENTS = {"implement", "vanilla", "react", "reflexion"}  # agents that run a policy
_WORLD_MODEL_AGENTS = {"implement", "vanilla"}  # agents that run a world model


def discover_runs(run_dirs: Sequence[Path]) -> dict[str, Path]:
    """Run id -> run directory: each path is a run, or a folder whose subfolders are runs."""
    found: dict[str, Path] = {}
    for root in map(Path, run_dirs):
        if (root / RUN_FILE).is_file():
            candidates = [root]
        elif root.is_dir():
            candidates = sorted(p for p in root.iterdir() if (p / RUN_FILE).is_file())
        else:
            candidates = []
        for path in candidates:
            run_id, n = path.name, 2
            while run_id in found:  # the same name under two roots
                run_id, n = f"{path.name}-{n}", n + 1
            found[run_id] = path
    return found


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def _run_path(run_dirs: Sequence[Path], run_id: str) -> Path:
    runs = discover_runs(run_dirs)
    if run_id not in runs:
        raise _not_found(f"no run {run_id!r}; known runs: {', '.join(sorted(runs)) or 'none'}")
    return runs[run_id]


def _policy(config: dict[str, Any]) -> str | None:
    """The policy spec as `agents.policy_spec` reads it, from run.json's config."""
    if config.get("evaluation", {}).get("agent") not in _POLICY_AGENTS:
        return None
    return config.get("policy", {}).get("model") or config.get("llm", {}).get("model") or "planner"


def run_row(run_id: str, path: Path) -> dict[str, Any]:
    """The runs table's row of one run; a run that cannot be read gets an `error` instead."""
    run = RunDir(path)
    try:
        meta = run.meta()
        summary = run_summary(run)
    except (ImplementError, KeyError, TypeError, ValueError) as exc:
        logger.warning("cannot summarize the run in %s: %s", path, exc)
        return {"id": run_id, "path": str(path), "error": f"{type(exc).__name__}: {exc}"}
    config = meta.get("config", {})
    agent = config.get("evaluation", {}).get("agent")
    sr_at = summary["sr_at"]
    usage = summary["usage"]
    return {
        "id": run_id,
        "path": str(path),
        "agent": agent,
        "policy": _policy(config),
        "world_model": config.get("world_model", {}).get("model") if agent in _WORLD_MODEL_AGENTS else None,
        "split": config.get("environment", {}).get("split"),
        "games": summary["games"],
        "trials": summary["trials"],
        "sr_at": [sr_at[k] for k in sorted(sr_at, key=int)],
        "sr_final": sr_at[str(summary["trials"])] if sr_at else None,
        "steps_per_success": summary["steps_per_success"],
        "usage": {key: usage.get(key, 0) for key in _USAGE},
        "started_at": meta.get("started_at"),
        "finished_episodes": summary["episodes"],
        "complete": summary["complete"],
        "errors": summary["errors"],
    }


def _episode_row(record: dict[str, Any]) -> dict[str, Any]:
    usage = record.get("usage", {})
    return {
        "game": record["game"],
        "task_type": record.get("task_type"),
        "trial": record["trial"],
        "goal": record.get("goal"),
        "won": record["won"],
        "steps": record["steps"],
        "walkthrough_steps": record.get("walkthrough_steps"),
        "failed_actions": len(record.get("failed_actions", [])),
        "error": record.get("error"),
        "seconds": record.get("seconds"),
        "usage": {key: usage[key] for key in ("llm_calls", "cost", "rounds", "imagined") if key in usage},
        "finished": True,
    }


def _steps_file(path: Path, trial: int, game_id: str) -> Path:
    return RunDir(path).steps_path(trial, game_id)


def _meta(run_id: str, path: Path) -> dict[str, Any]:
    try:
        return RunDir(path).meta()
    except ImplementError as exc:
        raise HTTPException(status_code=500, detail=f"run {run_id!r} cannot be read: {exc}") from exc


def run_detail(run_id: str, path: Path) -> dict[str, Any]:
    """The run's row, its full summary and its episodes, finished ones then those in progress."""
    row = run_row(run_id, path)
    if "error" in row:
        raise HTTPException(status_code=500, detail=f"run {run_id!r} cannot be read: {row['error']}")
    run = RunDir(path)
    meta = _meta(run_id, path)
    episodes = [_episode_row(e) for e in run.episodes()]
    finished = {(e["game"], e["trial"]) for e in episodes}
    games = {g["id"]: g.get("task_type") for g in meta.get("games", [])}
    for trial in range(1, row["trials"] + 1):  # step logs of episodes still being played
        for game_id, task_type in games.items():
            if (game_id, trial) not in finished and _steps_file(path, trial, game_id).is_file():
                episodes.append({"game": game_id, "task_type": task_type, "trial": trial, "finished": False})
    return {
        **row,
        "config": meta.get("config", {}),
        "versions": meta.get("versions", {}),
        "git_revision": meta.get("git_revision"),
        "summary": run_summary(run),
        "episodes": episodes,
    }


def _round_view(record: dict[str, Any]) -> dict[str, Any]:
    reply = record.get("reply", {})
    return {
        "round": record.get("round"),
        "proposals": reply.get("proposals", []),
        "choice": reply.get("choice"),
        "reasoning": reply.get("reasoning", ""),
        "parse_errors": reply.get("parse_errors", []),
        "imagined": record.get("imagined", []),
    }


def _actual(belief: dict[str, Any] | None, state: dict[str, Any]) -> dict[str, Any]:
    """Where the agent really is and what it holds after the step, and how likely the belief found it."""
    location, inventory = state.get("agent_location"), state.get("inventory")
    actual: dict[str, Any] = {"location": location, "inventory": inventory}
    if belief is not None and belief.get("samples"):
        actual["p_location"] = belief.get("locations", {}).get(location, 0.0)
        actual["p_inventory"] = belief.get("inventory", {}).get(inventory, 0.0)
    return actual


def step_view(previous: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    """One step: what the agent saw, what it imagined each round, what it did, and what happened."""
    decision = line.get("decision", {})
    details = decision.get("details") or {}
    rounds = [_round_view(r) for r in details.get("rounds", []) if isinstance(r, dict)]
    action = decision.get("action")
    chosen = next((b for r in rounds for b in r["imagined"] if b.get("action") == action), None)
    observation = line.get("observation", {})
    state = line.get("state", {})
    return {
        "step": line.get("step"),
        "seen": previous.get("observation", {}).get("text", ""),
        "belief_state": details.get("state", previous.get("state")),  # the state the agent decided on
        "rounds": rounds,
        "chosen": chosen,
        "decision": {
            "action": action,
            "reasoning": decision.get("reasoning", ""),
            "fallback": details.get("fallback"),
            "usage": decision.get("usage", {}),
        },
        "other_details": {k: v for k, v in details.items() if k not in ("state", "rounds", "fallback")},
        "outcome": {
            "action": observation.get("action"),
            "text": observation.get("text", ""),
            "succeeded": observation.get("succeeded"),
            "won": observation.get("won"),
            "done": observation.get("done"),
        },
        "state": state,
        "actual": _actual(chosen, state),
    }


def episode_view(run_id: str, path: Path, trial: int, game_id: str) -> dict[str, Any]:
    """An episode's step log, shaped for the view (see `step_view`)."""
    meta = _meta(run_id, path)
    games = {g["id"]: g for g in meta.get("games", [])}
    if game_id not in games:
        raise _not_found(f"run {run_id!r} has no game {game_id!r}")
    steps_file = _steps_file(path, trial, game_id)
    lines = read_jsonl(steps_file)
    if not lines:
        raise _not_found(f"run {run_id!r} has no steps for game {game_id!r} in trial {trial}")
    record = next(
        (e for e in RunDir(path).episodes() if e.get("game") == game_id and e.get("trial") == trial), None
    )
    error = next((line for line in lines if "error" in line), None)
    played = [line for line in lines if "error" not in line]
    return {
        "run": run_id,
        "trial": trial,
        "game": game_id,
        "task_type": games[game_id].get("task_type"),
        "walkthrough_steps": games[game_id].get("walkthrough_steps"),
        "episode": _episode_row(record) if record else None,
        "goal": record.get("goal") if record else None,
        "initial": {
            "observation": played[0].get("observation", {}).get("text", "") if played else "",
            "state": played[0].get("state") if played else None,
        },
        "steps": [step_view(before, line) for before, line in pairwise(played)],
        "error": {"error": error.get("error"), "traceback": error.get("traceback")} if error else None,
    }


def dashboard_router(run_dirs: Sequence[Path]) -> APIRouter:
    """The dashboard's page and API over `run_dirs` (runs, or folders of runs)."""
    roots = [Path(p) for p in run_dirs]
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "dashboard.html").read_text())

    @router.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in _ASSETS:
            raise _not_found(f"no asset {name!r}")
        return FileResponse(STATIC / name, media_type=_ASSETS[name])

    @router.get("/api/runs")
    def runs() -> list[dict[str, Any]]:
        """Every run found, newest first."""
        rows = [run_row(run_id, path) for run_id, path in discover_runs(roots).items()]
        return sorted(rows, key=lambda r: r.get("started_at") or "", reverse=True)

    @router.get("/api/runs/{run_id}")
    def run(run_id: str) -> dict[str, Any]:
        return run_detail(run_id, _run_path(roots, run_id))

    @router.get("/api/runs/{run_id}/episodes/{trial}/{game_id:path}")
    def episode(run_id: str, trial: int, game_id: str) -> dict[str, Any]:
        return episode_view(run_id, _run_path(roots, run_id), trial, game_id)

    return router


__all__ = ["dashboard_router", "discover_runs", "episode_view", "run_detail", "run_row", "step_view"]
