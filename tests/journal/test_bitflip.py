"""Flip every bit of one record, framing newlines included: every flip is detected.

Rule asserted: the finding names the segment and the seq the damaged record held (the
one after the last good record before it), whatever seq the damaged bytes now claim.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from journal import Journal, JournalDamaged


def _store_with_sealed_segment(store: Path) -> tuple[list[Path], dict[int, tuple[Path, int, int]]]:
    """Records 2..6 in a sealed segment, 7..11 in the active one; spans of every record."""
    with Journal.open(store) as journal:
        for i in range(10):
            if i == 5:
                journal.roll()
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i, "s": "Jx*"})
    segments = sorted((store / "journal" / "segments").iterdir())
    spans = {}
    for path in segments:
        data = path.read_bytes()
        at = 0
        while (start := data.find(b"\n{", at)) >= 0:
            end = data.index(b"\n", start + 1)
            spans[int(data[start + 8 : data.index(b",", start)])] = (path, start, end + 1)
            at = end
    return segments, spans


def _check_every_flip(store: Path, target: int) -> int:
    _, spans = _store_with_sealed_segment(store)
    path, start, end = spans[target]  # from the leading framing newline to the trailing one
    original = path.read_bytes()
    positions = range(start, end)
    bits = [(p, b) for p in positions for b in range(8)]
    with Journal.open(store) as journal:
        for position, bit in bits:
            damaged = bytearray(original)
            damaged[position] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            report = journal.scan()
            hits = [
                f
                for f in report.findings
                if f.severity == "error" and f.segment == path.name and f.seq == target
            ]
            assert hits, (position - start, bit, report.findings)
            with pytest.raises(JournalDamaged):
                list(journal.read())
            others = {r.seq for r in journal.read(on_damage="report")}
            assert others >= set(spans) - {target}
        path.write_bytes(original)
        assert journal.scan().healthy
    return len(bits)


@pytest.mark.parametrize(
    ("where", "target"), [("sealed", 4), ("active-middle", 9), ("active-last", 11)]
)
def test_every_bit_flip_is_detected(store: Path, where: str, target: int) -> None:
    flips = _check_every_flip(store, target)
    print(f"{where}: {flips} flips, all detected")


@pytest.mark.soak
@pytest.mark.parametrize("target", [2, 6, 7, 10])
def test_every_bit_flip_soak(store: Path, target: int) -> None:
    _check_every_flip(store, target)
