"""`Journal.transaction()`: read, decide and append under one hold of the store lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal import Draft, Journal, LockTimeout


def test_a_transaction_appends_after_the_head_it_read(store: Path) -> None:
    with Journal.open(store) as journal, journal.transaction() as tx:
        head = tx.head_seq
        records = tx.append_many([Draft("t.added", "t", "a", {}), Draft("t.added", "t", "b", {})])
        assert [record.seq for record in records] == [head + 1, head + 2]
        assert tx.head_seq == head + 2
        more = tx.append_many([Draft("t.added", "t", "c", {})])
        assert more[0].seq == head + 3


def test_nobody_else_appends_while_a_transaction_holds_the_lock(store: Path) -> None:
    with Journal.open(store) as journal, Journal.open(store, lock_timeout=0.05) as other:
        with journal.transaction() as tx:
            head = tx.head_seq
            with pytest.raises(LockTimeout, match="store busy"):
                other.append(kind="t.added", entity="t", id="x", payload={})
            assert tx.append_many([Draft("t.added", "t", "a", {})])[0].seq == head + 1
        assert other.append(kind="t.added", entity="t", id="x", payload={}).seq == head + 2


def test_a_refusal_inside_appends_nothing_and_leaves_the_writer_usable(store: Path) -> None:
    with Journal.open(store) as journal:
        before = journal.head_seq
        with pytest.raises(FileNotFoundError), journal.transaction():
            # the caller's own OSError (a missing input file, say) is not a failed write
            raise FileNotFoundError("input.csv")
        assert journal.head_seq == before
        assert journal.stopped is None
        assert journal.append(kind="t.added", entity="t", id="a", payload={}).seq == before + 1


def test_a_failed_write_inside_stops_the_writer(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import journal._writer as writer_module

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with Journal.open(store) as journal:
        before = journal.head_seq
        with pytest.raises(OSError, match="writer stopped"), journal.transaction() as tx:
            monkeypatch.setattr(writer_module.os, "fsync", failing_fsync)
            tx.append_many([Draft("t.added", "t", "a", {})])
        monkeypatch.undo()
        assert journal.stopped is not None
        with pytest.raises(OSError, match="stopped"):
            journal.append(kind="t.added", entity="t", id="b", payload={})
    with Journal.open(store) as journal:
        assert journal.head_seq is not None and journal.head_seq >= before
