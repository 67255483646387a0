"""fsync fails with EIO at each of its call sites: the writer stops and never retries.

After a failed fsync the kernel may have dropped the dirty pages, so a retried fsync can
"succeed" with the data gone. The writer must stop: the failing call raises, every later
append raises without writing, fsync is never called again, and a fresh Journal
recovers a valid prefix holding everything acknowledged before the failure.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from journal import Draft, Journal, WriterStopped

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


def _segment_sizes(store: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (store / "journal" / "segments").iterdir()}


def _work(journal: Journal, step: int) -> list[int]:
    """One acknowledged unit of work: appends that roll segments (and so write meta)."""
    if step % 3 == 2:
        records = journal.append_many(
            [Draft("t.added", "t", f"b{step}-{i}", {"pad": "x" * 100}) for i in range(3)]
        )
        return [r.seq for r in records]
    return [
        journal.append(kind="t.added", entity="t", id=f"s{step}", payload={"pad": "y" * 300}).seq
    ]


@pytest.mark.parametrize("nth", [1, 3])
@pytest.mark.parametrize("site", sorted(SITES))
def test_fsync_failure_stops_the_writer(
    store: Path, monkeypatch: pytest.MonkeyPatch, site: str, nth: int
) -> None:
    fsync = FailingFsync(site, nth)
    acknowledged: list[int] = []
    journal = Journal.open(store, segment_bytes=1200)
    monkeypatch.setattr(os, "fsync", fsync)
    step = 0
    with pytest.raises(WriterStopped) as raised:
        while step < 200:
            acknowledged += _work(journal, step)
            step += 1
    assert fsync.failed, "the failure was never injected"
    assert raised.value.fields["errno"] == errno.EIO
    sizes = _segment_sizes(store)
    for later in range(3):
        with pytest.raises(WriterStopped, match="stopped after a failed write") as again:
            _work(journal, later)
        assert "reopen the store" in (again.value.hint or "")
    assert _segment_sizes(store) == sizes, "a stopped writer wrote"
    assert fsync.calls_after_failure == 0, "fsync was retried after it failed"
    monkeypatch.undo()
    journal.close()
    with Journal.open(store) as fresh:
        seqs = [record.seq for record in fresh.read()]
        assert set(acknowledged) <= set(seqs)
        assert seqs == list(range(1, len(seqs) + 1))
        after = fresh.append(kind="t.added", entity="t", id="after", payload={})
        assert after.seq > max(acknowledged, default=1)
        assert fresh.scan().healthy
