"""Game files: ids, splits and task types from paths; discovery errors; installing split archives."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from implement.envs.games import (
    DATA_VERSION,
    GAME_FILE,
    TASK_TYPES,
    Game,
    find_games,
    games_by_task_type,
    install,
    read_walkthrough,
    split_dir,
)
from implement.errors import DataError

SHARED_ALFWORLD = Path(__file__).resolve().parents[3] / "shared" / "alfworld"


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """A folder holding `tiny.tar.xz`, packed from the built games as ALFWorld's archives are."""
    folder = tmp_path_factory.mktemp("archives")
    with tarfile.open(folder / "tiny.tar.xz", "w:xz") as tar:
        tar.add(split_dir("tiny", data_root), arcname=f"{DATA_VERSION}/tiny")
    return folder


def leftovers(root: Path) -> list[str]:
    """Everything under `<root>/json_2.1.1/` (a failed install must leave nothing, no temp folder)."""
    base = root / DATA_VERSION
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def test_game_from_path_reads_id_split_and_task_type(tiny_games: list[Game]) -> None:
    assert len(tiny_games) == 6
    assert sorted(g.task_type for g in tiny_games) == sorted(TASK_TYPES)
    for game in tiny_games:
        folder = game.path.parent.parent.name
        again = Game.from_path(game.path)
        assert again == game
        assert again.id == f"tiny/{folder}/{game.path.parent.name}"
        assert again.split == "tiny"
        assert folder.startswith(again.task_type + "-")
        assert Game.from_path(game.path.parent) == game  # the trial folder works too
        assert Game.from_path(game.path, "other").id.startswith("other/")


def test_folder_without_a_task_type_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny" / "make_coffee-Mug-None-Counter-1" / "trial_T0" / GAME_FILE
    with pytest.raises(DataError, match="does not start with a task type") as info:
        Game.from_path(path)
    assert "pick_and_place_simple" in str(info.value)


def test_find_games_on_a_missing_split_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        find_games("valid_seen", tmp_path)
    assert "implement data install" in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_known_split_with_the_wrong_count_is_incomplete(tmp_path: Path, tiny_games: list[Game]) -> None:
    target = split_dir("valid_seen", tmp_path)
    for game in tiny_games[:2]:
        shutil.copytree(game.path.parent, target / game.path.parent.parent.name / game.path.parent.name)
    with pytest.raises(DataError, match="incomplete or corrupt") as info:
        find_games("valid_seen", tmp_path)
    assert "holds 2 games, expected 140" in str(info.value)


def test_empty_custom_split_is_an_error(tmp_path: Path) -> None:
    split_dir("mine", tmp_path).mkdir(parents=True)
    with pytest.raises(DataError, match="incomplete or corrupt"):
        find_games("mine", tmp_path)


def test_games_by_task_type_counts_in_task_type_order(tiny_games: list[Game]) -> None:
    counts = games_by_task_type(tiny_games + tiny_games[:1])
    assert list(counts) == [t for t in TASK_TYPES if t in counts]
    assert counts[tiny_games[0].task_type] == 2
    assert sum(counts.values()) == 7


def test_read_walkthrough(tiny_games: list[Game], tmp_path: Path) -> None:
    for game in tiny_games:
        walkthrough = read_walkthrough(game)
        assert walkthrough and all(isinstance(c, str) for c in walkthrough)
    broken = tmp_path / "tiny" / "pick_and_place_simple-X-None-Y-1" / "trial_T0" / GAME_FILE
    broken.parent.mkdir(parents=True)
    broken.write_text("{}")
    with pytest.raises(DataError, match="walkthrough"):
        read_walkthrough(Game.from_path(broken))


def test_install_from_an_archive_is_idempotent(
    archives: Path, tmp_path: Path, tiny_games: list[Game]
) -> None:
    root = tmp_path / "root"
    assert install(["tiny"], archives, root) == {"tiny": 6}
    installed = find_games("tiny", root)
    assert [g.id for g in installed] == [g.id for g in tiny_games]
    assert installed[0].path.read_bytes() == tiny_games[0].path.read_bytes()
    assert leftovers(root) == ["tiny"]

    marker = split_dir("tiny", root) / "marker"
    marker.write_text("still here")
    assert install(["tiny"], archives, root) == {"tiny": 6}
    assert marker.exists(), "a complete split was unpacked again"

    assert install(["tiny"], archives, root, force=True) == {"tiny": 6}
    assert not marker.exists(), "force=True did not unpack again"
    assert leftovers(root) == ["tiny"]


def test_archive_without_its_split_folder_is_an_error(archives: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (tmp_path / "src").mkdir()
    shutil.copy(archives / "tiny.tar.xz", tmp_path / "src" / "valid_seen.tar.xz")
    with pytest.raises(DataError, match=f"does not contain {DATA_VERSION}/valid_seen/"):
        install(["valid_seen"], tmp_path / "src", root)
    assert leftovers(root) == []


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_corrupt_archive_leaves_no_half_split(archives: Path, tmp_path: Path, damage: str) -> None:
    data = (archives / "tiny.tar.xz").read_bytes()
    middle = len(data) // 2
    if damage == "truncated":
        bad = data[:middle]
    else:
        bad = data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]
    source = tmp_path / "src"
    source.mkdir()
    (source / "tiny.tar.xz").write_bytes(bad)
    root = tmp_path / "root"
    with pytest.raises(DataError, match="cannot unpack"):
        install(["tiny"], source, root)
    assert leftovers(root) == []


def test_failed_reinstall_keeps_the_installed_split(archives: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(["tiny"], archives, root)
    source = tmp_path / "src"
    source.mkdir()
    (source / "tiny.tar.xz").write_bytes((archives / "tiny.tar.xz").read_bytes()[:100])
    with pytest.raises(DataError):
        install(["tiny"], source, root, force=True)
    assert len(find_games("tiny", root)) == 6
    assert leftovers(root) == ["tiny"]


def test_missing_archive_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"tiny\.tar\.xz not found"):
        install(["tiny"], tmp_path, tmp_path / "root")


@pytest.mark.data
def test_install_real_valid_seen(tmp_path: Path) -> None:
    archive = SHARED_ALFWORLD / "valid_seen.tar.xz"
    if not archive.is_file():
        pytest.skip(
            f"ALFWorld archives not found at {SHARED_ALFWORLD} (CI keeps shared/ beside the checkout)"
        )
    assert install(["valid_seen"], SHARED_ALFWORLD, tmp_path) == {"valid_seen": 140}
    games = find_games("valid_seen", tmp_path)
    counts = games_by_task_type(games)
    assert set(counts) == set(TASK_TYPES)
    assert sum(counts.values()) == 140
    assert len({g.id for g in games}) == 140
