"""os.write fails (ENOSPC) or returns short counts: nothing short is ever acknowledged."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from journal import Draft, Journal, WriterStopped


class FaultyWrite:
    """os.write on segment files that misbehaves from the nth call on, in one of three ways."""

    def __init__(self, mode: str, nth: int, rng: random.Random) -> None:
        self.mode, self.nth, self.rng = mode, nth, rng
        self.real = os.write
        self.calls = 0

    def __call__(self, fd: int, data: bytes) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
            return self.real(fd, data)
        self.calls += 1
        if self.calls < self.nth:
            return self.real(fd, data)
        if self.mode == "enospc":
            raise OSError(errno.ENOSPC, "injected ENOSPC")
        if self.mode == "short-then-enospc" and self.calls > self.nth:
            raise OSError(errno.ENOSPC, "injected ENOSPC after a short write")
        cut = self.rng.randrange(1, len(data)) if len(data) > 1 else 1
        return self.real(fd, bytes(data[:cut]))  # a short count, as a full disk gives


def _work(journal: Journal, step: int) -> list[int]:
    if step % 2:
        drafts = [
            Draft("t.added", "t", f"b{step}-{i}", {"i": i, "pad": "z" * 50}) for i in range(4)
        ]
        return [record.seq for record in journal.append_many(drafts)]
    return [journal.append(kind="t.added", entity="t", id=f"s{step}", payload={"i": step}).seq]


def _whole_records_on_disk(store: Path) -> dict[int, dict[str, object]]:
    with Journal.open(store) as journal:
        return {record.seq: record.payload for record in journal.read()}


@pytest.mark.parametrize("nth", [1, 2, 5])
@pytest.mark.parametrize("mode", ["enospc", "short-then-enospc"])
def test_failed_write_stops_and_recovers(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, mode: str, nth: int
) -> None:
    acknowledged: set[int] = set()
    journal = Journal.open(store)
    monkeypatch.setattr(os, "write", FaultyWrite(mode, nth, random.Random(seed)))
    with pytest.raises(WriterStopped) as raised:
        for step in range(50):
            acknowledged.update(_work(journal, step))
    assert raised.value.fields["errno"] == errno.ENOSPC
    with pytest.raises(WriterStopped):
        _work(journal, 99)
    monkeypatch.undo()
    journal.close()
    on_disk = _whole_records_on_disk(store)
    assert set(acknowledged) <= set(on_disk)
    head = max(on_disk)
    with Journal.open(store) as fresh:
        record = fresh.append(kind="t.added", entity="t", id="after", payload={})
        notes = [r for r in fresh.read(after=head) if r.kind == "journal.fragment_adjudicated"]
        torn = mode != "enospc"  # a short write left part of a record behind
        assert len(notes) == int(torn)
        assert record.seq == head + 1 + len(notes)  # the next seq: nothing reused, nothing skipped
        assert fresh.scan().healthy


def test_short_writes_are_continued_and_acknowledged_whole(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    faulty = FaultyWrite("short", 1, random.Random(seed))
    monkeypatch.setattr(os, "write", faulty)
    with Journal.open(store) as journal:
        acknowledged = [seq for step in range(20) for seq in _work(journal, step)]
    monkeypatch.undo()
    assert faulty.calls > 20  # records really were written in several pieces
    on_disk = _whole_records_on_disk(store)
    assert sorted(on_disk) == [1, *acknowledged]
    with Journal.open(store) as journal:
        assert journal.scan().healthy
