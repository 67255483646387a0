"""A symlink in checkpoints/ is never written through, and a checkpoint holding one is invalid.

A checkpoint is a set of plain files: one whose file, directory or manifest is a symlink
(even to a byte-identical copy, which passes the size check) could serve another store's
state under this manifest, so the cheap check readers run on every command refuses it,
and `verify` names the entry. A create never writes through a symlinked checkpoints/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checkpoints import Checkpoint, CheckpointStore
from journal import UnsafeFile
from tests.checkpoints._util import files_for

TABLE = "tables/traces.parquet"


@pytest.fixture
def made(store: Path) -> tuple[CheckpointStore, Checkpoint]:
    checkpoints = CheckpointStore(store)
    checkpoints.create(10, files_for(10, store.parent / "src"))
    return checkpoints, checkpoints.create(20, files_for(20, store.parent / "src"))


def _copy_out(path: Path, outside: Path) -> None:
    """Replace `path` (file or directory) by a symlink to an identical copy outside."""
    outside.mkdir(exist_ok=True)
    target = outside / path.name
    shutil.move(path, target)
    path.symlink_to(target)


@pytest.mark.parametrize(
    ("entry", "code"),
    [(TABLE, "unsafe_file"), ("tables", "unsafe_file"), ("manifest.json", "manifest_invalid")],
)
def test_a_symlinked_entry_makes_the_checkpoint_invalid(
    made: tuple[CheckpointStore, Checkpoint], tmp_path: Path, entry: str, code: str
) -> None:
    checkpoints, checkpoint = made
    assert checkpoints.latest_valid() is not None
    _copy_out(checkpoint.path / entry, tmp_path / "outside")
    latest = checkpoints.latest_valid()
    assert latest is not None and latest.seq == 10  # the cheap check skips it
    findings = checkpoints.verify(20)
    assert findings[0].code == code and findings[0].severity == "error"
    assert "symlink to" in findings[0].message


def test_a_symlinked_checkpoint_directory_is_not_a_checkpoint(
    made: tuple[CheckpointStore, Checkpoint], tmp_path: Path
) -> None:
    checkpoints, checkpoint = made
    _copy_out(checkpoint.path, tmp_path / "outside")
    assert [c.seq for c in checkpoints.list()] == [10]


def test_create_refuses_a_symlinked_checkpoints_directory(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store / "checkpoints").symlink_to(outside)
    with pytest.raises(UnsafeFile, match="checkpoints is a symlink to"):
        CheckpointStore(store).create(5, files_for(5, tmp_path / "src"))
    assert list(outside.iterdir()) == []
    assert CheckpointStore(store).list() == []  # nor does a reader list what it points to


def test_set_aside_renames_in_place_and_refuses_a_symlinked_checkpoints_directory(
    made: tuple[CheckpointStore, Checkpoint], tmp_path: Path
) -> None:
    checkpoints, checkpoint = made
    target = checkpoints.set_aside(checkpoint.name)
    assert target.parent == checkpoints.directory and not checkpoint.path.exists()
    assert [(path, kind) for path, kind in checkpoints.others()] == [(target, "set_aside")]
    assert [c.seq for c in checkpoints.list()] == [10]
    # the same rename through a checkpoints/ that is now a symlink is refused, unmade
    moved = tmp_path / "outside"
    shutil.move(checkpoints.directory, moved)
    checkpoints.directory.symlink_to(moved)
    with pytest.raises(UnsafeFile, match="checkpoints is a symlink to"):
        checkpoints.set_aside("ckpt-00000000000000000010")
    assert (moved / "ckpt-00000000000000000010").is_dir()
