"""fsync fails with EIO at each call site and in each call: the writer stops, never retries.

After a failed fsync the kernel may have dropped the dirty pages, so a retried fsync can
"succeed" with the data gone. The writer must stop: the failing call raises
WriterStopped, every later append raises it without writing a byte, fsync is never
called again (not even by close), and a fresh Journal recovers a valid prefix holding
everything acknowledged before the failure, then appends again.

The call sites, told apart by the path behind the fd: the segment's data, the segments
directory after a new segment is created (tiny segment_bytes forces rolls), meta.json's
temp file, and the journal directory after meta.json is renamed into place. Besides
appends, `roll()`, `sync()` and `close()` fsync too, and must fail the same way.
"""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from journal import Journal, Record, WriterStopped
from tests.journal._util import draft, sizes

SITES: dict[str, Callable[[str], bool]] = {
    "segment": lambda target: target.endswith(".jsonl"),
    "segments-dir": lambda target: target.endswith("/journal/segments"),
    "meta-file": lambda target: "/meta.json.tmp-" in target,
    "meta-dir": lambda target: target.endswith("/journal"),
}


class FailingFsync:
    """os.fsync that fails with EIO on the nth call at one site, and counts every call."""

    def __init__(self, site: str, nth: int) -> None:
        self.matches, self.nth = SITES[site], nth
        self.real = os.fsync
        self.seen = 0
        self.calls_after_failure = 0
        self.failed = False

    def __call__(self, fd: int) -> None:
        if self.failed:
            self.calls_after_failure += 1
        if self.matches(os.readlink(f"/proc/self/fd/{fd}")):
            self.seen += 1
            if self.seen == self.nth:
                self.failed = True
                raise OSError(errno.EIO, "injected EIO")
        self.real(fd)


def _op(journal: Journal, step: int, rng: random.Random) -> list[Record]:
    """One call: an append, or every third step an append_many of a few records."""
    pad = "x" * rng.randrange(50, 400)
    if step % 3 == 2:
        return journal.append_many([draft(f"b{step}-{i}", pad=pad) for i in range(3)])
    return [journal.append(kind="t.added", entity="t", id=f"s{step}", payload={"pad": pad})]


def _run_until_stopped(
    journal: Journal, rng: random.Random
) -> tuple[list[Record], list[int], WriterStopped]:
    """Append until the writer stops: (acknowledged, seqs of the failed call, the error)."""
    acknowledged: list[Record] = []
    for step in range(300):
        failing = 3 if step % 3 == 2 else 1
        try:
            acknowledged += _op(journal, step, rng)
        except WriterStopped as exc:
            head = acknowledged[-1].seq if acknowledged else 1
            return acknowledged, list(range(head + 1, head + 1 + failing)), exc
    raise AssertionError("the failure was never injected")


def _assert_stopped(journal: Journal, store: Path, fsync: FailingFsync) -> None:
    """Every later call raises WriterStopped and writes nothing; close does not fsync."""
    before = sizes(store)
    for step in range(4):  # appends and a batch
        with pytest.raises(WriterStopped, match="stopped after a failed write") as again:
            _op(journal, step, random.Random(step))
        assert "reopen the store" in (again.value.hint or "")
    journal.close()  # still under the failing fsync: a stopped writer must not touch it
    assert sizes(store) == before, "a stopped writer wrote"
    assert fsync.calls_after_failure == 0, "fsync was called again after it failed"


def _assert_recovers(store: Path, acknowledged: list[Record], failed: list[int]) -> None:
    """A fresh Journal reads a valid prefix with every acknowledged record, and appends."""
    with Journal.open(store) as fresh:
        records = {record.seq: record for record in fresh.read()}
        head = max(records)
        assert sorted(records) == list(range(1, head + 1))
        assert all(records[record.seq] == record for record in acknowledged)
        # the failed call's records are all on disk (the write happened, its fsync did
        # not) or none of them are (the failure came first); never part of a batch
        assert head in (failed[0] - 1, failed[-1])
        new = fresh.append(kind="t.added", entity="t", id="after", payload={})
        assert new.seq == head + 1
        report = fresh.scan()
        assert report.healthy and report.findings == [], report.findings


def _check_site(
    store: Path, monkeypatch: pytest.MonkeyPatch, site: str, nth: int, seed: int
) -> None:
    fsync = FailingFsync(site, nth)
    journal = Journal.open(store, segment_bytes=1500)
    monkeypatch.setattr(os, "fsync", fsync)
    acknowledged, failed, raised = _run_until_stopped(journal, random.Random(seed))
    assert fsync.failed
    assert raised.fields["errno"] == errno.EIO
    assert isinstance(raised.__cause__, OSError) and raised.__cause__.errno == errno.EIO
    assert journal.stopped is not None
    _assert_stopped(journal, store, fsync)
    monkeypatch.undo()
    _assert_recovers(store, acknowledged, failed)


@pytest.mark.parametrize("nth", [1, 3])
@pytest.mark.parametrize("site", sorted(SITES))
def test_fsync_failure_stops_the_writer(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, site: str, nth: int
) -> None:
    _check_site(store, monkeypatch, site, nth, seed)


@pytest.mark.soak
@pytest.mark.parametrize("nth", range(1, 16))
@pytest.mark.parametrize("site", sorted(SITES))
def test_fsync_failure_stops_the_writer_soak(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, site: str, nth: int
) -> None:
    _check_site(store, monkeypatch, site, nth, seed + nth)


@pytest.mark.parametrize("site", sorted(SITES))
def test_fsync_failure_in_roll_stops_the_writer(
    store: Path, monkeypatch: pytest.MonkeyPatch, site: str
) -> None:
    # durability="batch" leaves records unsynced, so roll() also fsyncs the segment data
    journal = Journal.open(store, durability="batch")
    acknowledged = [
        journal.append(kind="t.added", entity="t", id=f"r{i}", payload={}) for i in range(2)
    ]
    fsync = FailingFsync(site, 1)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(WriterStopped, match="injected EIO") as raised:
        journal.roll()
    assert fsync.failed and raised.value.fields["errno"] == errno.EIO
    assert journal.stopped is not None
    _assert_stopped(journal, store, fsync)
    monkeypatch.undo()
    _assert_recovers(store, acknowledged, [acknowledged[-1].seq + 1])  # roll wrote no record


@pytest.mark.parametrize("call", ["sync", "close"])
def test_fsync_failure_in_sync_or_close_stops_the_writer(
    store: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    journal = Journal.open(store, durability="batch")
    unsynced = journal.append(kind="t.added", entity="t", id="unsynced", payload={})
    fsync = FailingFsync("segment", 1)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(WriterStopped, match="injected EIO") as raised:
        if call == "sync":
            journal.sync()
        else:
            journal.close()
    assert fsync.failed and raised.value.fields["errno"] == errno.EIO
    assert journal.stopped is not None
    _assert_stopped(journal, store, fsync)
    monkeypatch.undo()
    _assert_recovers(store, [unsynced], [unsynced.seq + 1])  # sync and close write no record
