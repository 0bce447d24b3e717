"""ALFWorld game files: where they live, which split and task type each belongs to, installing them."""

from __future__ import annotations

import json
import logging
import lzma
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from implement.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
SPLIT_SIZES = {"train": 3553, "valid_seen": 140, "valid_unseen": 134, "valid_train": 200}
GAME_FILE = "game.tw-pddl"
DATA_VERSION = "json_2.1.1"
INSTALL_HINT = "run `implement data install --from ../shared/alfworld` (or without --from to download)"


@dataclass(frozen=True, order=True)
class Game:
    """One ALFWorld game file. `id` is `<split>/<task folder>/<trial>`, unique across splits."""

    id: str
    path: Path
    split: str
    task_type: str

    @classmethod
    def from_path(cls, path: Path, split: str | None = None) -> Game:
        """A game from its `game.tw-pddl` path; the task type is the first part of its folder name."""
        path = Path(path)
        if path.is_dir():
            path = path / GAME_FILE
        trial, folder = path.parent.name, path.parent.parent.name
        split = split or path.parent.parent.parent.name
        task_type = folder.split("-", 1)[0]
        if task_type not in TASK_TYPES:
            raise DataError(
                f"{path}: folder {folder!r} does not start with a task type ({', '.join(TASK_TYPES)})"
            )
        return cls(id=f"{split}/{folder}/{trial}", path=path, split=split, task_type=task_type)


def data_root() -> Path:
    """`$ALFWORLD_DATA`, else ~/.cache/alfworld (ALFWorld's own default)."""
    return Path(os.environ.get("ALFWORLD_DATA") or Path.home() / ".cache" / "alfworld")


def split_dir(split: str, root: Path | None = None) -> Path:
    return (root or data_root()) / DATA_VERSION / split


def find_games(split: str, root: Path | None = None) -> list[Game]:
    """Every game of a split, sorted by id. Raises `DataError` saying how to install missing data.

    ALFWorld's splits must hold their known number of games; any other folder under
    `<root>/json_2.1.1/` is a custom split (your own game files) and needs at least one game.
    """
    directory = split_dir(split, root)
    if not directory.is_dir():
        known = ", ".join(SPLIT_SIZES)
        raise DataError(
            f"ALFWorld split {split!r} not found at {directory} (splits: {known}); {INSTALL_HINT}"
        )
    games = sorted(Game.from_path(p, split) for p in directory.glob(f"*/*/{GAME_FILE}"))
    expected = SPLIT_SIZES.get(split)
    if (expected is not None and len(games) != expected) or not games:
        raise DataError(
            f"ALFWorld split {split!r} at {directory} holds {len(games)} games, expected "
            f"{expected or 'at least 1'}; it is incomplete or corrupt: {INSTALL_HINT} --force"
        )
    return games


def sample_games(games: list[Game], n: int | None, seed: int, *, setting: str) -> list[Game]:
    """A seeded sample of `n` games (all of them for None), sorted by id; `setting` names `n` in errors."""
    if n is None:
        return games
    if n < 1:
        raise ConfigError(f"{setting} must be at least 1, got {n}")
    return sorted(random.Random(seed).sample(games, min(n, len(games))))


def games_by_task_type(games: list[Game]) -> dict[str, int]:
    counts = Counter(g.task_type for g in games)
    return {t: counts[t] for t in TASK_TYPES if counts[t]}


def install(
    splits: list[str], source: Path | None, root: Path | None = None, *, force: bool = False
) -> dict[str, int]:
    """Unpack `<source>/<split>.tar.xz` archives (or run ALFWorld's download) and verify game counts.

    An archive holds `json_2.1.1/<split>/<task folder>/<trial>/game.tw-pddl` files.

    Idempotent: a split already complete is left alone unless `force`. Unpacking goes to a
    temporary folder beside the target first, so an interrupted install leaves no half split.
    """
    root = root or data_root()
    counts: dict[str, int] = {}
    for split in splits:
        if not force and _complete(split, root):
            logger.info("split %s already installed at %s", split, split_dir(split, root))
        elif source is None:
            if split not in SPLIT_SIZES:
                raise DataError(
                    f"ALFWorld's download has no split {split!r}; expected one of: {', '.join(SPLIT_SIZES)}"
                )
            _download(root)
        else:
            _unpack(source / f"{split}.tar.xz", split, root)
        counts[split] = len(find_games(split, root))
    return counts


def _complete(split: str, root: Path) -> bool:
    try:
        find_games(split, root)
    except DataError:
        return False
    return True


def _unpack(archive: Path, split: str, root: Path) -> None:
    if not archive.is_file():
        raise DataError(
            f"archive {archive} not found; expected `<split>.tar.xz` files as in ../shared/alfworld"
        )
    target = split_dir(split, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{split}-") as tmp:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            raise DataError(f"cannot unpack {archive}: {exc}") from exc
        unpacked = Path(tmp) / DATA_VERSION / split
        if not unpacked.is_dir():
            raise DataError(f"{archive} does not contain {DATA_VERSION}/{split}/")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)


def _download(root: Path) -> None:
    script = shutil.which("alfworld-download") or str(Path(sys.executable).parent / "alfworld-download")
    result = subprocess.run([sys.executable, script, "--data-dir", str(root)], check=False)
    if result.returncode != 0:
        raise DataError(
            f"ALFWorld's download failed (exit {result.returncode}); without network, "
            "install from the archives: `implement data install --from ../shared/alfworld`"
        )


def read_walkthrough(game: Game) -> list[str]:
    """The game's expert plan. Privileged: for the `expert` reference agent and data collection only."""
    try:
        return list(json.loads(game.path.read_text())["walkthrough"])
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"cannot read the walkthrough of {game.path}: {exc}") from exc
