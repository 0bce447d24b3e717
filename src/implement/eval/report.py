"""Tables of a run summary, for the terminal (rendered by the CLI)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def summary_tables(summary: dict[str, Any]) -> list[Table]:
    """SR@k per task type and overall; per trial; steps and failures."""
    ks = list(summary["sr_at"])
    shown = ks if len(ks) <= 6 else [*ks[:3], *ks[-3:]]
    sr = Table(title=f"SR@k (%) over {summary['games']} games, {summary['episodes']} episodes")
    sr.add_column("task type")
    sr.add_column("games", justify="right")
    for k in shown:
        sr.add_column(f"SR@{k}", justify="right")
    for task_type, row in summary["by_task_type"].items():
        sr.add_row(task_type, str(row["games"]), *(_pct(row["sr_at"][k]) for k in shown))
    sr.add_row("all", str(summary["games"]), *(_pct(summary["sr_at"][k]) for k in shown), style="bold")

    trials = Table(title="By trial")
    for column in ("trial", "attempted", "solved", "steps / walkthrough"):
        trials.add_column(column, justify="right")
    for row in summary["by_trial"]:
        ratio = row["steps_ratio_to_walkthrough"]
        trials.add_row(
            str(row["trial"]),
            str(row["attempted"]),
            str(row["solved"]),
            "-" if ratio is None else f"{ratio:.2f}",
        )

    totals = Table(title="Totals", show_header=False)
    totals.add_row("steps per success", str(summary["steps_per_success"]))
    totals.add_row("steps / walkthrough (successes)", str(summary["steps_ratio_to_walkthrough"]))
    totals.add_row("failed-action rate", str(summary["failed_action_rate"]))
    totals.add_row("episodes with errors", str(summary["errors"]))
    totals.add_row("complete", "yes" if summary["complete"] else "no (partial run)")
    for key, value in summary.get("usage", {}).items():
        totals.add_row(key.replace("_", " "), str(round(value, 4)))  # llm calls, tokens, cost, rounds...
    return [sr, trials, totals]
