"""The HTML report of a run: SR@k over trials (a matplotlib plot, embedded) and the summary's tables."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any


def sr_plot_png(summary: dict[str, Any]) -> bytes:
    """SR@k against k, overall (bold) and per task type, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    ks = [int(k) for k in summary["sr_at"]]
    for task_type, row in summary["by_task_type"].items():
        axes.plot(ks, [100 * row["sr_at"][str(k)] for k in ks], marker=".", linewidth=1, label=task_type)
    axes.plot(
        ks, [100 * summary["sr_at"][str(k)] for k in ks], marker="o", linewidth=3, color="black", label="all"
    )
    axes.set(xlabel="trials k", ylabel="SR@k (%)", ylim=(0, 102), xticks=ks, title="Success rate over trials")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_html_report(summary: dict[str, Any], path: Path, *, title: str) -> Path:
    """Write the report to `path` (one self-contained file) and return it."""
    ks = list(summary["sr_at"])
    sr_rows = [
        [t, row["games"], *(100 * row["sr_at"][k] for k in ks)] for t, row in summary["by_task_type"].items()
    ]
    sr_rows.append(["all", summary["games"], *(100 * summary["sr_at"][k] for k in ks)])
    trial_rows = [
        [r["trial"], r["attempted"], r["solved"], r["steps_ratio_to_walkthrough"]]
        for r in summary["by_trial"]
    ]
    totals = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    usage = summary.get("usage", {})
    image = base64.b64encode(sr_plot_png(summary)).decode()
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}td:first-child{{text-align:left}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<img alt="SR@k over trials" src="data:image/png;base64,{image}">
<h2>SR@k (%)</h2>
{_table(["task type", "games", *(f"SR@{k}" for k in ks)], sr_rows)}
<h2>By trial</h2>
{_table(["trial", "attempted", "solved", "steps / walkthrough"], trial_rows)}
<h2>Totals</h2>
{_table(["", "value"], [[k, v] for k, v in totals.items()])}
<h2>LLM usage</h2>
{_table(["", "value"], [[k, v] for k, v in usage.items()]) if usage else "<p>No model calls.</p>"}
</body></html>
"""
    path.write_text(page)
    return path


__all__ = ["sr_plot_png", "write_html_report"]
