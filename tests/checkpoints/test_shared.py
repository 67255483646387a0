"""Files shared between checkpoints: hard-linked as they are, kept while any holder is kept."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from checkpoints import Checkpoint, CheckpointNotFound, CheckpointRefused, CheckpointStore
from journal import UnsafeFile

BIG = os.urandom(200_000)


def _first(store: Path) -> Checkpoint:
    return CheckpointStore(store).create(
        5, {"tables/t.parquet": BIG, "small.json": b"{}"}, meta={"seq": 5}
    )


def test_a_shared_file_is_the_same_inode_listed_with_the_same_hash(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    old = _first(store)
    new = checkpoints.create(
        9, {"tables/t.parquet": old.shared("tables/t.parquet"), "small.json": b"[]"}, meta={}
    )
    assert (
        os.stat(new.path_of("tables/t.parquet")).st_ino
        == os.stat(old.path_of("tables/t.parquet")).st_ino
    )
    assert new.files["tables/t.parquet"] == old.files["tables/t.parquet"]
    assert new.verify() == [] and old.verify() == []
    # pruning the checkpoint that wrote the file keeps it for the one that shares it
    assert checkpoints.prune(keep=1) == [old]
    assert not old.path.exists()
    assert new.verify() == []
    assert new.path_of("tables/t.parquet").read_bytes() == BIG


def test_damage_to_a_shared_file_shows_in_every_checkpoint_holding_it(store: Path) -> None:
    old = _first(store)
    new = CheckpointStore(store).create(9, {"t": old.shared("tables/t.parquet")}, meta={})
    with open(old.path_of("tables/t.parquet"), "r+b") as file:
        file.seek(1000)
        byte = file.read(1)
        file.seek(1000)
        file.write(bytes([byte[0] ^ 1]))
    assert [f.code for f in old.verify()] == ["sha_mismatch"]
    assert [f.code for f in new.verify()] == ["sha_mismatch"]


def test_a_shared_file_of_another_size_is_refused_and_nothing_is_written(store: Path) -> None:
    old = _first(store)
    with open(old.path_of("tables/t.parquet"), "ab") as file:
        file.write(b"x")
    with pytest.raises(CheckpointRefused) as caught:
        CheckpointStore(store).create(9, {"t": old.shared("tables/t.parquet")}, meta={})
    assert caught.value.fields["file"] == "tables/t.parquet"
    assert "200001 bytes" in caught.value.message and "doctor" in caught.value.hint
    assert CheckpointStore(store).seqs() == [5]
    assert CheckpointStore(store).strays() == []


def test_a_shared_file_swapped_for_a_symlink_is_never_linked(store: Path, tmp_path: Path) -> None:
    old = _first(store)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(BIG)
    shared = old.shared("tables/t.parquet")
    os.unlink(old.path_of("tables/t.parquet"))
    os.symlink(elsewhere, old.path / "tables/t.parquet")
    with pytest.raises(UnsafeFile):
        CheckpointStore(store).create(9, {"t": shared}, meta={})
    assert CheckpointStore(store).seqs() == [5]
    assert os.stat(elsewhere).st_nlink == 1


def test_a_shared_directory_swapped_for_a_symlink_is_never_followed(
    store: Path, tmp_path: Path
) -> None:
    old = _first(store)
    shared = old.shared("tables/t.parquet")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/t.parquet").write_bytes(BIG)
    os.rename(old.path / "tables", tmp_path / "moved")
    os.symlink(tmp_path / "other", old.path / "tables")
    with pytest.raises(UnsafeFile):
        CheckpointStore(store).create(9, {"t": shared}, meta={})
    assert os.stat(tmp_path / "other/t.parquet").st_nlink == 1


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM, errno.EMLINK])
def test_where_links_fail_the_file_is_copied_and_checked(
    store: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    old = _first(store)

    def no_link(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_link)
    new = CheckpointStore(store).create(9, {"t": old.shared("tables/t.parquet")}, meta={})
    assert os.stat(new.path_of("t")).st_ino != os.stat(old.path_of("tables/t.parquet")).st_ino
    assert new.verify() == [] and new.path_of("t").read_bytes() == BIG
    # a copy is hashed on the way: a damaged source is refused, not carried forward
    with open(old.path_of("tables/t.parquet"), "r+b") as file:
        file.write(b"\x00" if BIG[0] else b"\x01")
    with pytest.raises(CheckpointRefused) as caught:
        CheckpointStore(store).create(10, {"t": old.shared("tables/t.parquet")}, meta={})
    assert "sha256" in caught.value.message
    assert CheckpointStore(store).seqs() == [5, 9]


def test_sharing_a_file_the_checkpoint_does_not_list_is_refused(store: Path) -> None:
    old = _first(store)
    with pytest.raises(CheckpointNotFound) as caught:
        old.shared("tables/missing.parquet")
    assert caught.value.fields["file"] == "tables/missing.parquet"


def test_a_shared_file_must_still_be_the_inode_the_caller_read(store: Path) -> None:
    old = _first(store)
    inode = os.stat(old.path_of("tables/t.parquet")).st_ino
    kept = CheckpointStore(store).create(
        9, {"t": old.shared("tables/t.parquet", inode=inode)}, meta={}
    )
    assert os.stat(kept.path_of("t")).st_ino == inode
    # the file replaced by another of the same bytes (a rebuild of that checkpoint)
    os.unlink(old.path_of("tables/t.parquet"))
    old.path_of("tables/t.parquet").write_bytes(BIG)
    with pytest.raises(CheckpointRefused) as caught:
        CheckpointStore(store).create(
            10, {"t": old.shared("tables/t.parquet", inode=inode)}, meta={}
        )
    assert "replaced" in caught.value.message
    assert CheckpointStore(store).seqs() == [5, 9]
