"""Torn tails: truncate the active segment at every byte offset, or leave garbage after it.

The expected records are computed from the known byte offsets of each record, not with
the engine's parser: a record survives a cut iff its JSON bytes lie wholly before it
(the framing newlines are not part of a record).
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from journal import Draft, Journal

HOSTILE = {"text": "line\u2028sep\u2029para\u0085next \\n escaped\r\nreal", "nul": "\x00"}


Span = tuple[int, int, int, range | None]  # seq, JSON start, JSON end, its batch's seqs


def _build(store: Path, rounds: int = 1) -> tuple[Path, list[Span]]:
    """Append records; return the segment and where each record's JSON lies."""
    with Journal.open(store) as journal:
        for _ in range(rounds):
            journal.append(kind="t.added", entity="t", id="a", payload=HOSTILE)
            drafts = [Draft("t.added", "t", f"b{i}", {"i": i, **HOSTILE}) for i in range(3)]
            journal.append_many(drafts)
            journal.append(kind="t.added", entity="t", id="c", payload={"last": True})
    segment = next((store / "journal" / "segments").iterdir())
    data = segment.read_bytes()
    spans: list[Span] = []
    at = 0
    while (start := data.find(b"\n{", at)) >= 0:
        end = data.index(b"\n", start + 1)
        line = data[start + 1 : end]
        seq = int(line[7 : line.index(b",")])
        bounds = re.search(rb',"batch":\[(\d+),(\d+)\],"crc"', line)
        batch = range(int(bounds[1]), int(bounds[2]) + 1) if bounds else None
        spans.append((seq, start + 1, end, batch))
        at = end
    return segment, spans


def _expected(spans: list[Span], cut: int) -> list[int]:
    """Whole records before the cut; a batch survives only if all of it does."""
    whole = {seq for seq, _, end, _ in spans if end <= cut}
    return sorted(
        s for s, _, _, batch in spans if s in whole and (not batch or set(batch) <= whole)
    )


def _recover(root: Path, expected: list[int], garbage: bool) -> None:
    with Journal.open(root) as journal:
        reading = journal.read()
        assert [r.seq for r in reading] == expected
        assert not [f for f in reading.findings if f.severity == "error"]
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        notes = [r for r in journal.read(after=expected[-1]) if r.kind.startswith("journal.")]
        assert len(notes) == int(garbage)
        assert record.seq == expected[-1] + 1 + len(notes)
        assert journal.scan().healthy


def test_truncate_at_every_offset_of_the_last_records(store: Path, tmp_path: Path) -> None:
    _truncate_everywhere(store, tmp_path, rounds=1, records=5)


def _truncate_everywhere(store: Path, tmp_path: Path, rounds: int, records: int) -> None:
    meta = (store / "journal" / "meta.json").read_bytes()
    segment, spans = _build(store, rounds)
    data = segment.read_bytes()
    first = spans[-records][1] - 1  # from the framing newline of the batch's first record
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    for cut in range(first, len(data) + 1):
        # each round rewrites the only segment, so the copy starts from the cut again
        (copy / "journal" / "segments" / segment.name).write_bytes(data[:cut])
        # a crash cuts the segment before any later meta.json refresh could happen
        (copy / "journal" / "meta.json").write_bytes(meta)
        expected = _expected(spans, cut)
        last_end = max(end for seq, _, end, _ in spans if seq == expected[-1])
        leftover = data[last_end:cut].strip(b"\n")
        _recover(copy, expected, garbage=bool(leftover))


@pytest.mark.parametrize(
    "kind",
    ["zeros", "random-no-newline", "random-with-newlines", "prefix-and-nuls", "no-final-newline"],
)
def test_garbage_tails(store: Path, seed: int, kind: str) -> None:
    segment, spans = _build(store)
    data = segment.read_bytes()
    rng = random.Random(seed)
    record = data[spans[-1][1] : spans[-1][2]]  # the last record's JSON
    tails = {
        "zeros": b"\0" * rng.randrange(1, 5000),
        "random-no-newline": bytes(rng.choice(range(11, 256)) for _ in range(300)),
        "random-with-newlines": bytes(rng.randrange(256) for _ in range(3000)) + b"\nx",
        "prefix-and-nuls": b"\n" + record[: rng.randrange(1, len(record))] + b"\0" * 512,
        "no-final-newline": b"",
    }
    body = data[:-1] if kind == "no-final-newline" else data
    segment.write_bytes(body + tails[kind])
    _recover(store, [seq for seq, *_ in spans], garbage=kind != "no-final-newline")


@pytest.mark.soak
def test_truncate_every_offset_of_a_long_segment(store: Path, tmp_path: Path) -> None:
    _truncate_everywhere(store, tmp_path, rounds=20, records=40)
