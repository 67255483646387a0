"""meta.json is a cache: deleted, garbage or stale, it is rebuilt and a seq is never reused.

A lagging, missing or unreadable meta.json is just rewritten: the next seq comes from the
journal's tail. One ahead of the tail (it may have handed out seqs the tail lost) makes
the writer skip to its hint and explain the gap with a ``journal.seq_repaired`` note.
The store id survives meta.json: it is recovered from the ``journal.created`` record.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from journal import Journal
from tests.journal._util import draft, segment_files

DAMAGE: dict[str, bytes | None] = {
    "deleted": None,
    "empty": b"",
    "garbage": b"\x00\xffnot json",
    "truncated": b'{"format": 1, "next_seq": 1',
    "a-list": b"[1, 2, 3]",
    "no-next-seq": b'{"format": 1, "segments": []}',
    "next-seq-a-string": b'{"next_seq": "eleven", "segments": 3}',
    "next-seq-a-bool": b'{"next_seq": true}',
    "next-seq-a-float": b'{"next_seq": 3.0}',
    "next-seq-null": b'{"next_seq": null, "store_id": null}',
}


def _meta(store: Path) -> Path:
    return store / "journal" / "meta.json"


def _fill(store: Path, count: int) -> tuple[int, str]:
    """Append `count` records over several segments; return (head seq, store id)."""
    with Journal.open(store, segment_bytes=600) as journal:
        for i in range(count):
            journal.append_many([draft(f"t{i}", i=i)] * (1 + i % 2))
        assert len(segment_files(store)) > 1  # journal.created is not in the active one
        store_id = journal.store_id
        assert store_id is not None
        return journal.head_seq or 0, store_id


def _stale(store: Path, by: int) -> None:
    body = orjson.loads(_meta(store).read_bytes())
    body["next_seq"] += by
    _meta(store).write_bytes(orjson.dumps(body))


def _check_rebuilt(store: Path, next_seq: int, store_id: str) -> None:
    rebuilt = orjson.loads(_meta(store).read_bytes())
    assert rebuilt["next_seq"] == next_seq
    assert rebuilt["store_id"] == store_id
    assert rebuilt["segments"] == [path.name for path in segment_files(store)]


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_lost_or_unreadable_meta_is_rebuilt(store: Path, how: str) -> None:
    head, store_id = _fill(store, 12)
    damage = DAMAGE[how]
    if damage is None:
        _meta(store).unlink()
    else:
        _meta(store).write_bytes(damage)
    with Journal.open(store) as journal:
        assert journal.store_id == store_id  # from the journal.created record
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        assert record.seq == head + 1
        _check_rebuilt(store, head + 1, store_id)  # written down by the first append
        assert [r.seq for r in journal.read(after=head - 1)] == [head, head + 1]
        assert journal.scan().healthy
    _check_rebuilt(store, head + 2, store_id)  # refreshed on close


def test_a_store_id_of_the_wrong_type_is_ignored(store: Path) -> None:
    head, store_id = _fill(store, 6)
    _meta(store).write_bytes(b'{"next_seq": 2, "store_id": 7, "segments": "?"}')
    with Journal.open(store) as journal:
        assert journal.store_id == store_id
        assert journal.append(kind="t.added", entity="t", id="next", payload={}).seq == head + 1
    _check_rebuilt(store, head + 2, store_id)


def test_lagging_meta_is_rewritten_and_no_seq_is_skipped(store: Path) -> None:
    head, store_id = _fill(store, 12)
    _stale(store, -5)
    with Journal.open(store) as journal:
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        assert record.seq == head + 1
        assert [r.kind for r in journal.read(after=head)] == ["t.added"]
        report = journal.scan()
        assert report.healthy and report.findings == []
    _check_rebuilt(store, head + 2, store_id)


def test_meta_ahead_of_the_tail_skips_seqs_with_a_note(store: Path) -> None:
    head, store_id = _fill(store, 12)
    _stale(store, +5)  # meta.json handed out seqs head+1..head+5 that the tail lost
    with Journal.open(store) as journal:
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        added = list(journal.read(after=head))
        report = journal.scan()
    (note,) = added[:-1]
    assert note.kind == "journal.seq_repaired"
    assert (note.seq, note.payload["skipped"]) == (head + 6, [head + 1, head + 5])
    assert record.seq == head + 7  # nothing meta.json may have handed out is reused
    assert report.healthy and report.findings == [], report.findings  # the note explains it
    _check_rebuilt(store, head + 8, store_id)


def test_meta_ahead_of_a_torn_tail_skips_seqs_in_the_fragment_note(store: Path) -> None:
    head, store_id = _fill(store, 12)
    _stale(store, +5)
    segment = segment_files(store)[-1]
    with segment.open("ab") as handle:
        handle.write(b'\n{"seq":' + str(head + 1).encode() + b',"ts":"20')  # a torn write
    with Journal.open(store) as journal:
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        (note,) = list(journal.read(after=head))[:-1]
        report = journal.scan()
    assert note.kind == "journal.fragment_adjudicated"
    assert note.seq == head + 6 and record.seq == head + 7
    assert note.payload["verdict"] == "torn"
    assert note.payload["skipped"] == [head + 1, head + 5]
    assert note.payload["meta_next_seq"] == head + 6
    assert report.healthy and report.adjudicated == 1, report.findings
    _check_rebuilt(store, head + 8, store_id)


def test_meta_is_rewritten_before_any_append(store: Path) -> None:
    head, store_id = _fill(store, 6)
    _meta(store).unlink()
    with Journal.open(store) as journal:
        assert journal.head_seq == head and journal.stats()["meta_next_seq"] is None
    assert not _meta(store).exists()  # reading and closing without an append write nothing
    with Journal.open(store) as journal:
        journal.roll()
    _check_rebuilt(store, head + 1, store_id)


@pytest.mark.parametrize("hint", [2**63 - 1, 2**63, 2**53, 2**40, 0, -5])
def test_an_absurd_hint_is_ignored_and_rewritten_from_the_tail(store: Path, hint: int) -> None:
    """A hint no journal could have handed out (more than MAX_SKIP ahead, or not a seq)."""
    head, store_id = _fill(store, 6)
    body = orjson.loads(_meta(store).read_bytes())
    _meta(store).write_bytes(orjson.dumps({**body, "next_seq": hint}))
    with Journal.open(store) as journal:
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        added = list(journal.read(after=head))
        report = journal.scan()
    (note,) = added[:-1]
    assert note.kind == "journal.seq_repaired" and note.seq == head + 1
    assert note.payload["meta_next_seq"] == hint and "skipped" not in note.payload
    assert record.seq == head + 2
    assert report.healthy and report.findings == [], report.findings
    _check_rebuilt(store, head + 3, store_id)


def test_an_append_past_the_largest_seq_is_refused(store: Path) -> None:
    """A segment named near MAX_SEQ: the seqs it implies would not fit, so nothing is written."""
    from journal import MAX_SEQ, SeqExhausted

    (store / "journal/segments" / f"{MAX_SEQ:020d}.jsonl").write_bytes(b"")
    with Journal.open(store) as journal:
        with pytest.raises(SeqExhausted, match=f"would pass the largest seq, {MAX_SEQ}"):
            journal.append_many([draft("a"), draft("b")])
        assert journal.stopped is None


def test_check_meta_classifies_meta_against_the_journal(store: Path) -> None:
    """`Journal.check_meta` says how the cache stands; the doctor turns it into findings."""
    head, store_id = _fill(store, 12)
    with Journal.open(store) as journal:
        current = journal.check_meta(head=head)
        assert (current.state, current.next_seq, current.expected) == (
            "current",
            head + 1,
            head + 1,
        )
        assert current.other_store is None and current.listed == current.live > 1
        assert journal.check_meta(head=head - 2).state == "ahead"
        assert journal.check_meta(head=head + 3).state == "behind"
        _meta(store).write_bytes(orjson.dumps({"next_seq": 0, "store_id": store_id}))
        assert journal.check_meta(head=head).state == "absurd"
        _meta(store).write_bytes(orjson.dumps({"next_seq": head + 1, "store_id": "other"}))
        copied = journal.check_meta(head=head)
        assert (copied.state, copied.store_id, copied.other_store) == ("behind", "other", store_id)
        _meta(store).write_bytes(b'{"segments": []}')
        assert journal.check_meta(head=head).state == "no_next_seq"
        _meta(store).write_bytes(b"\x00 not json")
        unreadable = journal.check_meta(head=head)
        assert unreadable.state == "unreadable" and unreadable.error
        _meta(store).unlink()
        assert journal.check_meta(head=head).state == "missing"
