"""Flip every bit of one record, framing newlines included: every flip is detected.

The rule asserted: each flip gives an error finding in the record's own segment under
the seq the record held, which is the seq after the last good record before it. That is
the damaged record's seq even when the flip lands in its seq digits (a record claiming
seq 5 in place of 4 is reported as seq 4: the reader infers the seq from its position,
not from damaged bytes). No other error is reported, the other records all read with
on_damage="report", and on_damage="raise" raises JournalDamaged.

Between trials only the one segment file is rewritten: the others are never touched.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from journal import Journal, JournalDamaged
from tests.journal._util import HOSTILE, Tracker, draft, segment_files

SEALED = range(2, 7)  # seqs 2..6 are in the first segment, sealed by a roll
ACTIVE = range(7, 12)  # seqs 7..11 are in the active segment


def _build(store: Path, rng: random.Random) -> Tracker:
    """Records 2..6 in a sealed segment and 7..11 in the active one, about 350 bytes each."""
    with Journal.open(store) as journal:
        tracker = Tracker(journal, store)
        for seq in [*SEALED, *ACTIVE]:
            if seq == ACTIVE[0]:
                journal.roll()
            pad = "p" * rng.randrange(20, 60)
            tracker.write([draft(f"t{seq}", seq=seq, pad=pad, **HOSTILE)])
    return tracker


def _check_every_flip(store: Path, target: int, rng: random.Random) -> tuple[int, int]:
    """Flip each bit of the target's framed bytes in turn; return (flips, record bytes)."""
    tracker = _build(store, rng)
    path, span = tracker.spans[target]
    others = [seq for seq in sorted(tracker.spans) if seq != target]
    original = path.read_bytes()
    # the leading framing newline, the JSON, and the trailing framing newline
    framed = range(span.start - 1, span.end + 1)
    assert original[framed.start] == original[framed.stop - 1] == ord("\n")
    with Journal.open(store) as journal:
        for position in framed:
            for bit in range(8):
                damaged = bytearray(original)
                damaged[position] ^= 1 << bit
                path.write_bytes(damaged)
                _check_detected(journal, path.name, target, others)
        path.write_bytes(original)
        assert journal.scan().healthy
    return len(framed) * 8, span.end - span.start


def _check_detected(journal: Journal, segment: str, target: int, others: list[int]) -> None:
    report = journal.scan()
    errors = [(f.segment, f.seq) for f in report.findings if f.severity == "error"]
    assert (segment, target) in errors, report.findings
    assert set(errors) == {(segment, target)}, report.findings
    with pytest.raises(JournalDamaged):
        list(journal.read())
    assert [record.seq for record in journal.read(on_damage="report")] == others


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(4, id="sealed-middle"),
        pytest.param(9, id="active-middle"),
        pytest.param(ACTIVE[-1], id="active-last"),
    ],
)
def test_every_bit_flip_is_detected(store: Path, seed: int, target: int) -> None:
    began = time.perf_counter()
    flips, size = _check_every_flip(store, target, random.Random(seed))
    print(
        f"seq {target}: {flips} flips of a {size}-byte record, all detected, "
        f"{time.perf_counter() - began:.2f}s"
    )


@pytest.mark.soak
@pytest.mark.parametrize("round_", range(10))
def test_every_bit_flip_soak(store: Path, seed: int, round_: int) -> None:
    rng = random.Random(seed + round_)
    # the edges of each segment (the active one's last record is in the default run)
    edges = [SEALED[0], SEALED[-1], ACTIVE[0], ACTIVE[-2]]
    target = edges[round_] if round_ < len(edges) else rng.choice([*SEALED, *ACTIVE])
    flips, size = _check_every_flip(store, target, rng)
    print(f"seq {target}: {flips} flips of a {size}-byte record, all detected")


def test_damage_at_the_end_of_a_sealed_segment_is_reported_once(store: Path) -> None:
    tracker = _build(store, random.Random(0))
    path, span = tracker.spans[SEALED[-1]]
    data = bytearray(path.read_bytes())
    data[span.start + 30] ^= 0x01
    path.write_bytes(data)
    with Journal.open(store) as journal:
        findings = journal.scan().findings
    assert [(f.code, f.segment, f.seq) for f in findings] == [
        ("crc_mismatch", path.name, SEALED[-1])
    ]
    assert segment_files(store)[1].name == f"{ACTIVE[0]:020d}.jsonl"
