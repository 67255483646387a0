"""Torn tails: cut the active segment at every byte offset, or leave garbage after it.

What survives a cut is computed from the byte span of every record (file sizes around
each write, split on the framing newlines), never with the engine's parser: a record
survives iff its JSON bytes lie wholly before the cut (the framing newlines are not part
of it), and a batch survives only whole. After reopening, the next writer continues at
the last surviving seq + 1: first a ``journal.fragment_adjudicated`` note iff non-newline
bytes follow the last surviving record, then the caller's record.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from pathlib import Path

import pytest

from journal import Journal, JournalDamaged
from tests.journal._util import HOSTILE, Span, Tracker, draft, segment_files

FRAGMENT = "journal.fragment_adjudicated"
Layout = list[int]  # records per write: 1 is an append, more is an append_many batch


def _build(store: Path, layout: Layout) -> tuple[Path, bytes, dict[int, Span]]:
    """Write the layout with hostile payloads; return the segment, its bytes, every span."""
    with Journal.open(store) as journal:
        tracker = Tracker(journal, store)
        for unit, count in enumerate(layout):
            tracker.write([draft(f"u{unit}-{i}", i=i, **HOSTILE) for i in range(count)])
    (segment,) = segment_files(store)
    return segment, segment.read_bytes(), {seq: span for seq, (_, span) in tracker.spans.items()}


def _survivors(spans: dict[int, Span], cut: int) -> list[int]:
    """Seqs whose JSON lies wholly before `cut`; a batch only if its last record does."""
    whole = {seq for seq, span in spans.items() if span.end <= cut}
    return sorted(
        seq for seq in whole if spans[seq].batch_end is None or spans[seq].batch_end in whole
    )


def _check_recovery(root: Path, data: bytes, spans: dict[int, Span], cut: int) -> None:
    """Reopen the store cut at `cut`: exactly the survivors, then a note iff torn bytes."""
    expected = _survivors(spans, cut)
    last = spans[expected[-1]]
    torn = bytes(data[last.end : cut]).replace(b"\n", b"") != b""
    with Journal.open(root) as journal:
        reading = journal.read()  # on_damage="raise": an error finding would raise here
        assert [record.seq for record in reading] == expected, cut
        assert reading.findings == []
        report = journal.scan()
        assert [(f.code, f.seq) for f in report.findings] == ([("torn_tail", last.seq)] * torn)
        new = journal.append(kind="t.added", entity="t", id="next", payload={"cut": cut})
        added = list(journal.read(after=last.seq))
    assert [record.seq for record in added] == list(range(last.seq + 1, last.seq + 2 + torn))
    assert added[-1] == new
    if torn:
        note = added[0]
        assert note.kind == FRAGMENT
        assert note.payload["verdict"] == "torn" and note.payload["skipped"] is None
        assert (note.payload["start"], note.payload["end"]) == (last.end, cut)
        assert note.payload["sha256"] == hashlib.sha256(data[last.end : cut]).hexdigest()
    with Journal.open(root) as journal:
        report = journal.scan()
        assert report.healthy and report.findings == [], report.findings
        assert (report.records, report.adjudicated) == (len(expected) + len(added), int(torn))


def _cut_everywhere(store: Path, tmp_path: Path, layout: Layout, records: int) -> int:
    """Cut at every offset from the leading newline of the last `records` records to EOF."""
    meta = (store / "journal" / "meta.json").read_bytes()
    segment, data, spans = _build(store, layout)
    first = spans[max(spans) - records + 1].start - 1
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    for cut in range(first, len(data) + 1):
        # a crash cuts the segment before any later meta.json refresh could record it
        (copy / "journal" / "meta.json").write_bytes(meta)
        (copy / "journal" / "segments" / segment.name).write_bytes(data[:cut])
        _check_recovery(copy, data, spans, cut)
        assert [path.name for path in segment_files(copy)] == [segment.name]
    return len(data) + 1 - first


@pytest.mark.parametrize(
    ("layout", "records"),
    [
        pytest.param([1, 3, 1, 1], 2, id="last-two-appends"),
        pytest.param([1, 1, 3], 3, id="batch-at-the-end"),
    ],
)
def test_truncate_at_every_offset(
    store: Path, tmp_path: Path, layout: Layout, records: int
) -> None:
    began = time.perf_counter()
    cuts = _cut_everywhere(store, tmp_path, layout, records)
    print(f"{cuts} cuts recovered in {time.perf_counter() - began:.2f}s")


@pytest.mark.soak
def test_truncate_at_every_offset_soak(store: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    layout = [rng.choice([1, 1, 2, 3, 5]) for _ in range(40)]
    cuts = _cut_everywhere(store, tmp_path, layout, sum(layout[-6:]))
    print(f"layout={layout}: {cuts} cuts")


def _spoil(line: bytes, rng: random.Random) -> bytes:
    """A whole record line with one bit flipped inside its payload."""
    while True:
        at = rng.randrange(line.index(b'"payload":') + 12, len(line) - 20)
        flipped = line[at] ^ (1 << rng.randrange(8))
        if flipped != ord("\n"):  # a newline would cut the line in two: not one record
            return line[:at] + bytes([flipped]) + line[at + 1 :]


def _tail(kind: str, line: bytes, rng: random.Random) -> bytes:
    """Bytes a crash (or, for spoiled-copies, corruption) can leave after the last record."""
    no_newline = [b for b in range(256) if b != 10]
    noise = bytes(rng.randrange(256) for _ in range(2000))
    return {
        "zeros": b"\0" * rng.randrange(1, 5000),
        "random-no-newline": bytes(rng.choice(no_newline) for _ in range(rng.randrange(1, 600))),
        # DESIGN §4: "treat any unparseable bytes after the last valid record as a torn
        # tail"; only a whole record spoiled after writing makes a region damaged
        "random-with-newlines": noise[:700] + b"\n" + noise[700:] + b"\nend",
        "prefix-and-nuls": b"\n" + line[: rng.randrange(1, len(line))] + b"\0" * 512,
        "two-prefixes": b"\n" + line[: rng.randrange(1, len(line))] + b"\n" + line[:30],
        "spoiled-copies": b"\n" + _spoil(line, rng) + b"\n\n" + _spoil(line, rng) + b"\n" + noise,
        "no-final-newline": b"",
    }[kind]


VERDICTS = {"spoiled-copies": "damaged", "no-final-newline": None}


@pytest.mark.parametrize(
    "kind",
    [
        "zeros",
        "random-no-newline",
        "random-with-newlines",
        "prefix-and-nuls",
        "two-prefixes",
        "spoiled-copies",
        "no-final-newline",
    ],
)
def test_garbage_tails(store: Path, seed: int, kind: str) -> None:
    _, data, spans = _build(store, [1, 3, 1])
    last = spans[max(spans)]
    body = data[:-1] if kind == "no-final-newline" else data
    segment = segment_files(store)[0]
    segment.write_bytes(body + _tail(kind, data[last.start : last.end], random.Random(seed)))
    _check_garbage(store, sorted(spans), last, VERDICTS.get(kind, "torn"))


def _check_garbage(store: Path, seqs: list[int], last: Span, verdict: str | None) -> None:
    """Everything before the garbage reads; the note judges it; no seq is ever reused."""
    end = segment_files(store)[0].stat().st_size
    bad = [last.seq + 1, last.seq + 2] if verdict == "damaged" else []
    with Journal.open(store) as journal:
        reading = journal.read(on_damage="report")
        assert [record.seq for record in reading] == seqs
        assert [(f.code, f.severity, f.seq) for f in reading.findings] == [
            ("crc_mismatch", "error", seq) for seq in bad
        ]
        if bad:
            with pytest.raises(JournalDamaged):
                list(journal.read())
        new = journal.append(kind="t.added", entity="t", id="next", payload={})
        added = list(journal.read(after=last.seq, on_damage="report"))
    notes = [record for record in added if record.kind == FRAGMENT]
    first = last.seq + 1 + len(bad)  # a damaged line may hold an acknowledged seq: skip it
    assert [record.seq for record in added] == list(range(first, new.seq + 1))
    assert new.seq == first + (verdict is not None)
    assert new.seq > max(seqs)
    if verdict is None:
        assert notes == []
    else:
        (note,) = notes
        assert note.payload["verdict"] == verdict
        assert note.payload["skipped"] == ([bad[0], bad[-1]] if bad else None)
        assert (note.payload["start"], note.payload["end"]) == (last.end, end)
    with Journal.open(store) as journal:
        again = journal.append(kind="t.added", entity="t", id="again", payload={})
        assert again.seq == new.seq + 1
        report = journal.scan()
    expected = [("damaged_fragment", "error", bad[0])] if bad else []
    assert [(f.code, f.severity, f.seq) for f in report.findings] == expected
    assert report.adjudicated == (verdict == "torn")
