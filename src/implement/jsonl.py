"""JSON files written so that a crash loses at most the line in flight, and read back tolerantly."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


def read_jsonl(path: Path, *, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Every JSON object line of a file (none if it does not exist).

    A line that is not a JSON object (a torn last line of a killed writer, a hand-edited
    typo) is skipped with a warning, and described in `skipped` when given.
    """
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"{path}:{number}: not JSON ({exc.msg})"
        else:
            if isinstance(record, dict):
                records.append(record)
                continue
            reason = f"{path}:{number}: a JSON {type(record).__name__}, not an object"
        logger.warning("skipping %s", reason)
        if skipped is not None:
            skipped.append(reason)
    return records


def write_line(stream: IO[str], record: dict[str, Any]) -> None:
    stream.write(dumps(record) + "\n")
    stream.flush()


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one line and sync it to disk."""
    with path.open("a") as f:
        write_line(f, record)
        os.fsync(f.fileno())


def repair_jsonl(path: Path) -> None:
    """Drop a torn last line left by a killed writer, so that appending starts on a fresh line."""
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        rewrite_jsonl(path, read_jsonl(path))


def rewrite_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace a file's lines with `records`, whole or not at all (temp file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.writelines(dumps(r) + "\n" for r in records)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write a JSON file whole or not at all (temp file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.fchmod(fd, 0o644)  # an ordinary file, not mkstemp's 0600
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)
