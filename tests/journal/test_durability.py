"""Durability modes: always fsyncs every append, batch every N records and on sync/close."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from journal import Draft, Journal, JournalError


class CountingFsync:
    def __init__(self) -> None:
        self.real = os.fsync
        self.segment_calls = 0

    def __call__(self, fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
            self.segment_calls += 1
        self.real(fd)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> CountingFsync:
    counter = CountingFsync()
    monkeypatch.setattr(os, "fsync", counter)
    return counter


def test_always_fsyncs_each_append_and_each_batch_once(store: Path, fsyncs: CountingFsync) -> None:
    with Journal.open(store) as journal:
        for i in range(5):
            journal.append(kind="t.added", entity="t", id=f"{i}", payload={})
        assert fsyncs.segment_calls == 5
        journal.append_many([Draft("t.added", "t", f"b{i}", {}) for i in range(1000)])
        assert fsyncs.segment_calls == 6


def test_batch_fsyncs_every_n_records_and_on_sync_and_close(
    store: Path, fsyncs: CountingFsync
) -> None:
    journal = Journal.open(store, durability="batch", batch_records=10)
    for i in range(25):
        journal.append(kind="t.added", entity="t", id=f"{i}", payload={})
    assert fsyncs.segment_calls == 2
    journal.sync()
    assert fsyncs.segment_calls == 3
    journal.sync()  # nothing new: no fsync
    journal.append(kind="t.added", entity="t", id="last", payload={})
    journal.close()
    assert fsyncs.segment_calls == 4


def test_none_never_fsyncs_records(store: Path, fsyncs: CountingFsync) -> None:
    with Journal.open(store, durability="none", segment_bytes=500) as journal:
        for i in range(20):
            journal.append(kind="t.added", entity="t", id=f"{i}", payload={"pad": "x" * 50})
        assert len(journal.segments()[0]) > 1
    assert fsyncs.segment_calls == 0
    with Journal.open(store) as journal:
        assert journal.head_seq == 21 and journal.scan().healthy


def test_unknown_durability_is_refused(store: Path) -> None:
    with pytest.raises(ValueError, match="durability must be always, batch or none"):
        Journal.open(store, durability="sometimes")


def test_a_closed_journal_refuses_appends_and_closes_twice(store: Path) -> None:
    journal = Journal.open(store)
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="this journal is closed"):
        journal.append(kind="t.added", entity="t", id="x", payload={})


def test_a_stray_meta_temp_file_is_reported(store: Path) -> None:
    (store / "journal" / "meta.json.tmp-1-abcd").write_bytes(b"{")
    with Journal.open(store) as journal:
        report = journal.scan()
    assert report.healthy
    assert [(f.code, f.severity) for f in report.findings] == [("stray_temp_file", "warning")]
    assert "meta.json.tmp-1-abcd" in report.findings[0].message
