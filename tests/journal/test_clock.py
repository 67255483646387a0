"""The wall clock jumps (hours, years, to the epoch and before): seq order is untouched.

`ts` only decorates a record; `seq` orders everything. The engine stamps records with
`time.time_ns` (journal/_record.py), patched here to jump between appends.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from journal import Journal
from tests.journal._util import draft

NS = 10**9
HOUR, YEAR = 3600 * NS, 365 * 24 * 3600 * NS
NOW = 1_790_000_000 * NS  # late 2026

JUMPS = {
    "back-an-hour-and-forward-five": [NOW, NOW - HOUR, NOW + 5 * HOUR, NOW - HOUR, NOW],
    "back-years": [NOW, NOW - 20 * YEAR, NOW - 40 * YEAR, NOW, NOW - 50 * YEAR],
    "to-zero-and-back": [NOW, 0, NOW, 0, 0, NOW + YEAR],
    "before-the-epoch": [NOW, -1, -50 * YEAR, NOW],
    "far-future-and-back": [NOW, 2**63 - 1, NOW, 250_000_000_000 * NS, 0],
}


class FakeClock:
    """time.time_ns that returns whatever the test set last."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def _check(store: Path, monkeypatch: pytest.MonkeyPatch, times: list[int]) -> None:
    clock = FakeClock()
    monkeypatch.setattr(time, "time_ns", clock)
    seqs: list[int] = []
    stamps: list[str] = []
    with Journal.open(store, segment_bytes=800) as journal:
        for step, now in enumerate(times):
            clock.now = now
            if step % 2:
                records = journal.append_many([draft(f"b{step}-{i}", i=i) for i in range(2)])
            else:
                records = [journal.append(kind="t.added", entity="t", id=f"s{step}", payload={})]
            seqs += [record.seq for record in records]
            stamps += [record.ts for record in records]
            assert {record.ts for record in records} == {_stamp(now)}
    with Journal.open(store) as journal:  # reopen (and recover) under the skewed clock
        clock.now = 0
        seqs.append(journal.append(kind="t.added", entity="t", id="after", payload={}).seq)
        stamps.append(_stamp(0))
        records = list(journal.read())
        report = journal.scan()
    assert seqs == list(range(2, 2 + len(seqs)))  # contiguous and strictly increasing
    assert [record.seq for record in records] == [1, *seqs]  # read order is seq order
    assert [record.ts for record in records[1:]] == stamps
    assert report.healthy and report.findings == [], report.findings


def _stamp(ns: int) -> str:
    """The expected ts for a time_ns value, computed without the engine."""
    seconds, micros = divmod(ns // 1000, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


@pytest.mark.parametrize("jumps", sorted(JUMPS))
def test_clock_jumps_change_nothing_about_order(
    store: Path, monkeypatch: pytest.MonkeyPatch, jumps: str
) -> None:
    _check(store, monkeypatch, JUMPS[jumps])


def test_random_clock(store: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    _check(store, monkeypatch, [rng.randrange(0, 2**62) for _ in range(20)])


@pytest.mark.soak
@pytest.mark.parametrize("round_", range(10))
def test_random_clock_soak(
    store: Path, monkeypatch: pytest.MonkeyPatch, seed: int, round_: int
) -> None:
    rng = random.Random(seed + round_)
    _check(store, monkeypatch, [rng.randrange(-(2**61), 2**63) for _ in range(200)])
