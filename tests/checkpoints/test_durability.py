"""The fsyncs of a create, in order, and what happens when one of them fails with EIO.

A power cut cannot be staged in a test, so the order is asserted instead, on a trace of
every fsync and rename (`os.fsync` and `os.rename` patched, the path behind each fd read
from /proc): each file and the manifest are durable before the directories holding
their names, those before the rename that publishes the checkpoint, and the rename
before `create` returns. A failed fsync raises CheckpointWriteFailed at once, without a
retry (after EIO a second fsync can "succeed" with the data gone), and publishes nothing
it has not already renamed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import checkpoints._write as write
from checkpoints import CheckpointStore, CheckpointWriteFailed
from tests.checkpoints._util import SIZES, assert_whole, files_for

Event = tuple[str, str]


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Every fsync (by the path behind the fd) and rename (by its target) from now on."""
    events: list[Event] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        events.append(("rename", f"{source} -> {target}"))
        real_rename(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    return events


def _index(events: list[Event], kind: str, match: Callable[[str], bool]) -> int:
    """The position of the one event of `kind` whose path matches."""
    (found,) = [i for i, (what, path) in enumerate(events) if what == kind and match(path)]
    return found


def _fsync(events: list[Event], path: str | Path) -> int:
    """The position of the one fsync of `path`."""
    return _index(events, "fsync", lambda seen: seen == str(path))


def test_fsync_order(store: Path, trace: list[Event]) -> None:
    made = CheckpointStore(store).create(20, files_for(20, store.parent / "src"), meta={"seq": 20})
    assert_whole(made)
    tmp = next(path.split(" -> ")[0] for kind, path in trace if kind == "rename")
    assert Path(tmp).name.startswith(".tmp-ckpt-00000000000000000020-")

    rename = _index(trace, "rename", lambda path: path == f"{tmp} -> {made.path}")
    files = [_fsync(trace, f"{tmp}/{relpath}") for relpath in SIZES]
    manifest = _fsync(trace, f"{tmp}/manifest.json")
    dirs = {
        name: _fsync(trace, f"{tmp}{name}") for name in ("", "/heads", "/heads/traces", "/tables")
    }
    assert max(files) < manifest < min(dirs.values())  # files, then manifest, then names
    assert max(dirs.values()) < rename
    assert dirs["/heads/traces"] < dirs["/heads"] < dirs[""]  # the deepest names first
    assert _fsync(trace, store / "checkpoints") > rename
    # checkpoints/ was created by this first create: its own name was made durable too
    assert _fsync(trace, store) < rename
    assert trace[-1] == ("fsync", str(store / "checkpoints"))


SITES: dict[str, Callable[[str], bool]] = {
    "data-file": lambda path: path.endswith("/tables/traces.parquet"),
    "copied-file": lambda path: path.endswith("/heads/traces/00a1.json"),
    "callback-file": lambda path: path.endswith("/heads/traces/00a2.json"),
    "manifest": lambda path: path.endswith("/manifest.json"),
    "temp-dir": lambda path: "/.tmp-ckpt-" in path and path.endswith("/heads"),
    "checkpoints-dir": lambda path: path.endswith("/checkpoints"),
}


@pytest.mark.parametrize("site", SITES)
def test_a_failed_fsync_raises_without_retry_and_publishes_nothing_new(
    store: Path, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = CheckpointStore(store)
    checkpoints.create(10, files_for(10, store.parent / "src"), meta={"seq": 10})
    real_fsync = os.fsync
    calls: list[str] = []

    def failing(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(path)
        if SITES[site](path):
            raise OSError(errno.EIO, "injected EIO")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(CheckpointWriteFailed, match="could not write checkpoint") as caught:
        checkpoints.create(20, files_for(20, store.parent / "src"), meta={"seq": 20})
    monkeypatch.setattr(os, "fsync", real_fsync)

    assert caught.value.fields["errno"] == errno.EIO and caught.value.hint
    assert isinstance(caught.value.__cause__, OSError)
    assert SITES[site](calls[-1]), "no fsync after the failed one: never retried"
    assert checkpoints.strays() == [], "the temp dir of a failed create is removed"
    latest = checkpoints.latest_valid(verify=True)
    assert latest is not None
    # only a failure after the rename leaves the new checkpoint (whole) in place; the
    # caller was still told it failed, and a create at that seq keeps it
    assert latest.seq == (20 if site == "checkpoints-dir" else 10)
    assert_whole(latest)
    assert_whole(checkpoints.create(20, files_for(20, store.parent / "src"), meta={"seq": 20}))


class Stop(Exception):
    """Raised by `_stop_at` where a kill would be."""


def _stop_at(point: str) -> Callable[[str], None]:
    def step(name: str) -> None:
        if name == point:
            raise Stop(f"stopped at {name}")

    return step


def test_an_exception_at_a_step_removes_the_temp_dir(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write, "_step", _stop_at("tmp_synced"))
    checkpoints = CheckpointStore(store)
    with pytest.raises(Stop, match="stopped at tmp_synced"):
        checkpoints.create(5, {"a/b": b"1"})
    assert checkpoints.list() == [] and checkpoints.strays() == []


def test_create_syncs_a_found_one(
    store: Path, monkeypatch: pytest.MonkeyPatch, trace: list[Event]
) -> None:
    """A create stopped after its rename left the name unsynced: the next create syncs it."""
    checkpoints = CheckpointStore(store)
    monkeypatch.setattr(write, "_step", _stop_at("renamed"))
    with pytest.raises(Stop):
        checkpoints.create(5, {"x": b"1"})
    rename = _index(trace, "rename", lambda path: path.endswith("/ckpt-00000000000000000005"))
    assert ("fsync", str(checkpoints.directory)) not in trace[rename:]
    monkeypatch.setattr(write, "_step", lambda name: None)
    del trace[:]
    made = checkpoints.create(5, {"x": b"2"})
    assert made.read_bytes("x") == b"1", "the one found is kept"
    assert trace == [("fsync", str(checkpoints.directory))]


def test_a_writer_that_loses_the_race_keeps_the_winners_checkpoint(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process publishes the same seq between our check and our rename."""
    checkpoints = CheckpointStore(store)
    real_step = write._step

    def rival(name: str) -> None:
        if name == "tmp_synced":
            monkeypatch.setattr(write, "_step", real_step)
            checkpoints.create(5, {"x": b"winner"}, meta={"by": "rival"})

    monkeypatch.setattr(write, "_step", rival)
    made = checkpoints.create(5, {"x": b"loser"}, meta={"by": "us"})
    assert made.read_bytes("x") == b"winner" and made.meta == {"by": "rival"}
    assert [c.seq for c in checkpoints.list()] == [5] and checkpoints.strays() == []
    assert list(checkpoints.directory.iterdir()) == [made.path]


def test_a_full_disk_raises_and_leaves_the_old_checkpoint(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = CheckpointStore(store)
    checkpoints.create(10, files_for(10, store.parent / "src"), meta={"seq": 10})
    real_write = os.write
    writes: list[int] = []

    def full(fd: int, data: bytes | memoryview) -> int:
        writes.append(fd)
        if len(writes) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(CheckpointWriteFailed, match="No space left on device") as caught:
        checkpoints.create(20, files_for(20, store.parent / "src"), meta={"seq": 20})
    monkeypatch.undo()
    assert caught.value.fields["errno"] == errno.ENOSPC
    assert isinstance(caught.value, OSError) and caught.value.exit_code == 1
    assert checkpoints.strays() == [] and [c.seq for c in checkpoints.list()] == [10]
    latest = checkpoints.latest_valid(verify=True)
    assert latest is not None and latest.seq == 10
