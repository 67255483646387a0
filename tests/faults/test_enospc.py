"""os.write fails (ENOSPC) or returns short counts: nothing short is ever acknowledged.

Three ways a full disk shows up on a segment write, each on `append` and `append_many`:
(a) the nth write raises ENOSPC before writing anything; (b) every write from the nth on
writes only part of its buffer and returns that count; (c) the nth write is short and
its continuation raises ENOSPC. After (a) and (c) the writer is stopped; after (b) every
record is whole and acknowledged. Reopening recovers exactly the acknowledged records
(plus the failed call's records only if they all reached the disk whole), the next
writer notes the fragment iff non-newline bytes of the failed call are on disk, and the
seqs resume at the last good seq + 1: a torn write is never judged damaged.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from journal import Journal, Record, WriterStopped
from tests.journal._util import HOSTILE, draft, segment_files, sizes

Cut = Callable[[bytes], int]  # how many bytes of a buffer a short write writes
CUTS: dict[str, Cut] = {
    "framing-newline-only": lambda data: 1,
    "first-record-of-batch": lambda data: data.index(b"\n", 1) + 1,
    "middle": lambda data: len(data) // 2,
    "all-but-final-newline": lambda data: len(data) - 1,
}


class FaultyWrite:
    """os.write on segment files that misbehaves from the nth call on; counts every call."""

    def __init__(self, mode: str, nth: int, cut: Cut) -> None:
        self.mode, self.nth, self.cut = mode, nth, cut
        self.real = os.write
        self.calls = 0
        self.intended = b""  # the buffer of the call that failed
        self.torn = b""  # what its short write put on disk

    def __call__(self, fd: int, data: bytes) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
            return self.real(fd, data)
        self.calls += 1
        if self.calls < self.nth:
            return self.real(fd, data)
        if self.mode == "enospc" or (self.mode == "torn" and self.calls > self.nth):
            raise OSError(errno.ENOSPC, "injected ENOSPC")
        self.intended = bytes(data)
        if len(data) == 1:
            return self.real(fd, data)  # one byte cannot be short
        # a short count is at least 1 and less than asked
        part = self.intended[: max(1, min(self.cut(self.intended), len(data) - 1))]
        self.torn = part
        return self.real(fd, part)  # a short count, as a full disk gives


def _op(journal: Journal, kind: str, step: int) -> list[Record]:
    if kind == "append_many":
        return journal.append_many([draft(f"b{step}-{i}", i=i, **HOSTILE) for i in range(3)])
    return [journal.append(kind="t.added", entity="t", id=f"s{step}", payload=HOSTILE)]


def _fail_on_nth(
    store: Path, monkeypatch: pytest.MonkeyPatch, faulty: FaultyWrite, op: str
) -> tuple[list[Record], int]:
    """Run nth - 1 good calls, then `op` as the nth, which must fail.

    Return the acknowledged records and the segment's size before the failed call.
    """
    journal = Journal.open(store)
    monkeypatch.setattr(os, "write", faulty)
    acknowledged: list[Record] = []
    for step in range(faulty.nth - 1):
        acknowledged += _op(journal, ("append", "append_many")[step % 2], step)
    (segment,) = segment_files(store)
    size = segment.stat().st_size
    with pytest.raises(WriterStopped) as raised:
        _op(journal, op, 99)
    assert raised.value.fields["errno"] == errno.ENOSPC
    assert segment.stat().st_size == size + len(faulty.torn)
    _assert_stopped(journal, store, faulty)
    monkeypatch.undo()
    return acknowledged, size


def _assert_stopped(journal: Journal, store: Path, faulty: FaultyWrite) -> None:
    calls, before = faulty.calls, sizes(store)
    for op in ("append", "append_many"):
        with pytest.raises(WriterStopped, match="stopped after a failed write"):
            _op(journal, op, 100)
    journal.close()
    assert (faulty.calls, sizes(store)) == (calls, before), "a stopped writer wrote"


def _assert_recovers(
    store: Path, acknowledged: list[Record], whole: list[int], fragment: tuple[int, bytes] | None
) -> None:
    """Exactly the acknowledged records (and `whole`) read back; seqs resume after them.

    `fragment` is (start, bytes) of what the next writer must adjudicate as torn.
    """
    with Journal.open(store) as fresh:
        records = {record.seq: record for record in fresh.read()}
        assert sorted(records) == [1, *(r.seq for r in acknowledged), *whole]
        assert all(records[record.seq] == record for record in acknowledged)
        head = max(records)
        new = fresh.append(kind="t.added", entity="t", id="after", payload={})
        added = list(fresh.read(after=head))
        assert [record.seq for record in added] == list(range(head + 1, new.seq + 1))
        assert new.seq == head + 1 + (fragment is not None)
        if fragment is not None:
            start, torn = fragment
            payload = added[0].payload
            assert added[0].kind == "journal.fragment_adjudicated"
            assert (payload["verdict"], payload["skipped"]) == ("torn", None)
            assert (payload["start"], payload["end"]) == (start, start + len(torn))
            assert payload["sha256"] == hashlib.sha256(torn).hexdigest()
        report = fresh.scan()
        assert report.healthy and report.findings == [], report.findings
        assert report.adjudicated == (fragment is not None)


@pytest.mark.parametrize("op", ["append", "append_many"])
@pytest.mark.parametrize("nth", [1, 4])
def test_enospc_writes_nothing_and_stops(
    store: Path, monkeypatch: pytest.MonkeyPatch, op: str, nth: int
) -> None:
    faulty = FaultyWrite("enospc", nth, CUTS["middle"])
    acknowledged, _ = _fail_on_nth(store, monkeypatch, faulty, op)
    assert faulty.torn == b""
    _assert_recovers(store, acknowledged, [], None)


def _check_torn(
    store: Path, monkeypatch: pytest.MonkeyPatch, op: str, nth: int, cut: Cut
) -> list[int]:
    """(c) a short write then ENOSPC on its continuation; return the failed call's seqs
    that were recovered (all of them if only the final newline was missing, else none)."""
    faulty = FaultyWrite("torn", nth, cut)
    acknowledged, size = _fail_on_nth(store, monkeypatch, faulty, op)
    head = acknowledged[-1].seq if acknowledged else 1
    failed = list(range(head + 1, head + 1 + (3 if op == "append_many" else 1)))
    assert segment_files(store)[0].read_bytes()[size:] == faulty.torn
    # the last record of the call is whole iff only its final framing newline is missing;
    # a batch is whole only if its last record is
    whole = failed if len(faulty.torn) >= len(faulty.intended) - 1 else []
    # the region runs from the trailing newline of the last good record to the end
    torn = not whole and faulty.torn.strip(b"\n") != b""
    _assert_recovers(store, acknowledged, whole, (size - 1, b"\n" + faulty.torn) if torn else None)
    return whole


@pytest.mark.parametrize("cut", sorted(CUTS))
@pytest.mark.parametrize("op", ["append", "append_many"])
def test_short_write_then_enospc_is_torn_and_stops(
    store: Path, monkeypatch: pytest.MonkeyPatch, op: str, cut: str
) -> None:
    _check_torn(store, monkeypatch, op, 3, CUTS[cut])


@pytest.mark.soak
@pytest.mark.parametrize("round_", range(40))
def test_short_write_then_enospc_soak(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, round_: int
) -> None:
    rng = random.Random(seed + round_)
    op, nth = rng.choice(["append", "append_many"]), rng.randrange(1, 12)
    whole = _check_torn(store, monkeypatch, op, nth, lambda data: rng.randrange(1, len(data)))
    print(f"round {round_}: {op} as write {nth}, recovered whole: {whole}")


def _check_short_writes(store: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """(b) every write is short: write_all continues it, so every record is whole."""
    rng = random.Random(seed)
    faulty = FaultyWrite("short", 1, lambda data: rng.randrange(1, len(data)))
    monkeypatch.setattr(os, "write", faulty)
    with Journal.open(store) as journal:
        acknowledged = [
            record
            for step in range(12)
            for record in _op(journal, ("append", "append_many")[step % 2], step)
        ]
    monkeypatch.undo()
    assert faulty.calls > 12, "no write was ever short"
    _assert_recovers(store, acknowledged, [], None)


@pytest.mark.parametrize("round_", range(3))
def test_short_writes_are_continued_and_acknowledged_whole(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, round_: int
) -> None:
    _check_short_writes(store, monkeypatch, seed + round_)


@pytest.mark.soak
@pytest.mark.parametrize("round_", range(30))
def test_short_writes_soak(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, round_: int
) -> None:
    _check_short_writes(store, monkeypatch, seed + round_)
