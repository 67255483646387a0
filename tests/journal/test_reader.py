"""Reader semantics: cursors, gaps, batches, and every kind of finding a scan reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from journal import Draft, Journal, JournalDamaged, StoreNotFound
from journal._lock import StoreLock


def _fill(root: Path, count: int, **options: object) -> list[int]:
    with Journal.open(root, **options) as journal:  # type: ignore[arg-type]
        return [
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i}).seq
            for i in range(count)
        ]


def _segment_files(root: Path) -> list[Path]:
    return sorted((root / "journal" / "segments").iterdir())


def _codes(journal: Journal) -> list[str]:
    return [finding.code for finding in journal.scan().findings]


def test_read_after_and_limit_use_seq_cursors(store: Path) -> None:
    seqs = _fill(store, 10)
    with Journal.open(store) as journal:
        reading = journal.read(after=seqs[3], limit=4)
        assert [record.seq for record in reading] == seqs[4:8]
        assert reading.last_seq == seqs[7]
        assert [record.seq for record in journal.read(after=reading.last_seq)] == seqs[8:]
        assert list(journal.read(after=seqs[-1])) == []


def test_reads_span_segments_and_rolls(store: Path) -> None:
    seqs = _fill(store, 40, segment_bytes=1024)
    assert len(_segment_files(store)) > 3
    with Journal.open(store) as journal:
        assert [r.seq for r in journal.read()] == [1, *seqs]
        assert [r.seq for r in journal.read(after=seqs[20])] == seqs[21:]
        assert journal.scan().healthy
        assert journal.head_seq == seqs[-1]


def test_cursor_older_than_the_oldest_segment_reports_gap(store: Path) -> None:
    seqs = _fill(store, 30, segment_bytes=1024)
    first = _segment_files(store)[0]
    shutil.move(first, store / "journal" / "archive" / first.name)
    with Journal.open(store) as journal:
        reading = journal.read(after=0)
        records = list(reading)
        assert reading.gap is True
        assert reading.first_seq == records[0].seq > 1
        assert not journal.read(after=records[0].seq - 1).gap
        assert journal.store_id is not None
        assert journal.append(kind="t.added", entity="t", id="x", payload={}).seq == seqs[-1] + 1


def test_a_batch_is_read_whole_and_carries_its_bounds(store: Path) -> None:
    with Journal.open(store) as journal:
        records = journal.append_many([Draft("t.added", "t", f"b{i}", {"i": i}) for i in range(5)])
        assert {(r.batch_start, r.batch_end) for r in records} == {(2, 6)}
        assert list(journal.read(after=1)) == records
        assert journal.append(kind="t.added", entity="t", id="x", payload={}).batch_end is None


def test_a_torn_batch_is_void_and_adjudicated(store: Path) -> None:
    meta = store / "journal" / "meta.json"
    before = meta.read_bytes()
    with Journal.open(store) as journal:
        journal.append_many([Draft("t.added", "t", f"b{i}", {"i": i}) for i in range(3)])
    segment = _segment_files(store)[-1]
    data = segment.read_bytes()
    cut = data.rindex(b"\n{") - 5  # inside the batch's second-to-last record
    segment.write_bytes(data[:cut])
    meta.write_bytes(before)  # as if the writer died mid-write, before refreshing meta
    with Journal.open(store) as journal:
        assert [r.seq for r in journal.read()] == [1]
        record = journal.append(kind="t.added", entity="t", id="x", payload={})
        # the void batch's seqs were never acknowledged: the note takes seq 2 again
        notes = [r for r in journal.read() if r.kind == "journal.fragment_adjudicated"]
        assert [(n.seq, n.payload["verdict"], n.payload["skipped"]) for n in notes] == [
            (2, "torn", None)
        ]
        assert record.seq == 3
        assert [r.seq for r in journal.read()] == [1, 2, 3]
        report = journal.scan()
        assert report.healthy and report.adjudicated == 1


def test_an_orphaned_batch_member_is_not_read(store: Path) -> None:
    with Journal.open(store) as journal:
        journal.append_many([Draft("t.added", "t", f"b{i}", {"i": i}) for i in range(3)])
        journal.append(kind="t.added", entity="t", id="after", payload={})
    segment = _segment_files(store)[-1]
    lines = segment.read_bytes().split(b"\n")
    first_member = next(i for i, line in enumerate(lines) if b'"id":"b0"' in line)
    lines[first_member] = lines[first_member].replace(b'"i":0', b'"i":9')  # spoil it
    segment.write_bytes(b"\n".join(lines))
    with Journal.open(store) as journal:
        reading = journal.read(on_damage="report")
        assert [r.id for r in reading] == [journal.store_id, "after"]
        assert [f.code for f in reading.findings] == ["crc_mismatch"]
        assert reading.findings[0].seq == 2


def test_duplicate_seq_is_reported_and_applied_in_file_order(store: Path) -> None:
    _fill(store, 3)
    segment = _segment_files(store)[0]
    lines = [line for line in segment.read_bytes().split(b"\n") if line]
    segment.write_bytes(segment.read_bytes() + b"\n" + lines[-1] + b"\n")
    with Journal.open(store) as journal:
        reading = journal.read()
        assert [r.seq for r in reading] == [1, 2, 3, 4, 4]
        assert [(f.code, f.severity, f.seq) for f in reading.findings] == [
            ("duplicate_seq", "warning", 4)
        ]


def test_seq_out_of_order_is_an_error(store: Path) -> None:
    _fill(store, 3)
    segment = _segment_files(store)[0]
    lines = [line for line in segment.read_bytes().split(b"\n") if line]
    segment.write_bytes(segment.read_bytes() + b"\n" + lines[1] + b"\n")
    with Journal.open(store) as journal:
        assert _codes(journal) == ["seq_out_of_order"]
        with pytest.raises(JournalDamaged, match="seq 2 follows seq 4"):
            list(journal.read())


def test_a_deleted_middle_segment_is_a_gap(store: Path) -> None:
    _fill(store, 30, segment_bytes=1024)
    middle = _segment_files(store)[2]
    middle.unlink()
    with Journal.open(store) as journal:
        findings = journal.scan().findings
        assert [f.code for f in findings] == ["seq_gap"]
        assert f"before seq {findings[0].seq}" in findings[0].message


def test_a_renamed_segment_is_reported(store: Path) -> None:
    _fill(store, 30, segment_bytes=1024)
    files = _segment_files(store)
    wrong = files[1].with_name(f"{int(files[1].stem) + 1:020d}.jsonl")
    files[1].rename(wrong)
    with Journal.open(store) as journal:
        findings = journal.scan().findings
        assert [f.code for f in findings] == ["segment_name_mismatch"]
        assert findings[0].segment == wrong.name


def test_stray_files_are_warnings_not_damage(store: Path) -> None:
    _fill(store, 2)
    (store / "journal" / "segments" / "notes.txt").write_text("hello")
    with Journal.open(store) as journal:
        report = journal.scan()
        assert report.healthy
        assert [(f.code, f.severity) for f in report.findings] == [("stray_file", "warning")]
        assert [r.seq for r in journal.read()] == [1, 2, 3]


def test_report_mode_keeps_reading_past_damage(store: Path) -> None:
    seqs = _fill(store, 6)
    segment = _segment_files(store)[0]
    data = bytearray(segment.read_bytes())
    at = data.index(b'"id":"t2"')
    data[at + 6] ^= 0x01
    segment.write_bytes(bytes(data))
    with Journal.open(store) as journal:
        with pytest.raises(JournalDamaged) as raised:
            list(journal.read())
        assert raised.value.fields["seq"] == seqs[2]
        reading = journal.read(on_damage="report")
        assert [r.seq for r in reading] == [1, *seqs[:2], *seqs[3:]]
        assert [(f.code, f.seq) for f in reading.findings] == [("crc_mismatch", seqs[2])]
        # damage behind the cursor does not stop a reader that starts after it
        assert [r.seq for r in journal.read(after=seqs[3])] == seqs[4:]


def test_readers_take_no_lock(store: Path) -> None:
    seqs = _fill(store, 3)
    holder = StoreLock(store)
    holder.acquire(1.0)
    try:
        with Journal.open(store, lock_timeout=0.05) as journal:
            assert [r.seq for r in journal.read()] == [1, *seqs]
            assert journal.scan().healthy
            assert journal.stats()["lock_holder"] is not None
    finally:
        holder.close()


def test_open_without_a_store_names_it(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound) as raised:
        Journal.open(tmp_path / "nowhere")
    assert raised.value.exit_code == 5
    assert "lakehouse init" in (raised.value.hint or "")


def test_a_torn_note_after_a_torn_write_is_still_torn(store: Path) -> None:
    seqs = _fill(store, 2)
    segment = _segment_files(store)[-1]
    whole = segment.read_bytes()
    record = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]
    # a writer died mid-record; the next one died while writing its adjudication note
    segment.write_bytes(whole + b"\n" + record[:40] + b"\n" + record[:25])
    with Journal.open(store) as journal:
        assert journal.append(kind="t.added", entity="t", id="x", payload={}).seq == seqs[-1] + 2
        report = journal.scan()
        assert report.healthy and report.adjudicated == 1
        notes = [r for r in journal.read() if r.kind == "journal.fragment_adjudicated"]
        assert [n.payload["verdict"] for n in notes] == ["torn"]


def test_the_tail_is_found_behind_a_batch_larger_than_the_tail_window(store: Path) -> None:
    drafts = [Draft("t.added", "t", f"b{i}", {"pad": "p" * 100}) for i in range(2000)]
    with Journal.open(store) as journal:
        last = journal.append_many(drafts)[-1].seq
    segment = _segment_files(store)[-1]
    with open(segment, "ab") as handle:
        handle.write(b'\n{"seq":99,"ts":"2026')  # and a torn write after it
    with Journal.open(store) as journal:
        assert journal.head_seq == last
        assert journal.append(kind="t.added", entity="t", id="x", payload={}).seq == last + 2
        assert journal.scan().healthy
