from pathlib import Path

from journal import Journal


def test_append_then_read_back(store: Path) -> None:
    with Journal.open(store) as journal:
        record = journal.append(kind="trace.added", entity="trace", id="t1", payload={"a": 1})
        assert [r.seq for r in journal.read(after=record.seq - 1)] == [record.seq]
        assert record.seq == 2  # seq 1 is the journal.created note
