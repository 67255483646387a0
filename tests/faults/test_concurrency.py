"""Eight writer processes contend for the lock: seqs stay unique, contiguous and ordered."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal import Journal
from tests.faults._child import check_store, spawn

WRITERS = 8
EACH = 500


def _race(store: Path, tmp_path: Path) -> None:
    start = tmp_path / f"{store.name}-start"
    outs = [tmp_path / f"{store.name}-w{i}.txt" for i in range(WRITERS)]
    children = [
        spawn(store, out, "--name", f"w{i}", "--count", str(EACH), "--start-file", str(start))
        for i, out in enumerate(outs)
    ]
    start.touch()  # every child waits for this file, so they really contend
    for child in children:
        _, errors = child.communicate(timeout=300)
        assert child.returncode == 0, errors.decode()
    acknowledged = [
        (int(seq), name, int(n))
        for out in outs
        for seq, name, n in (line.split() for line in out.read_text().splitlines())
    ]
    assert len(acknowledged) == WRITERS * EACH
    records = check_store(store, acknowledged)  # 1..N exactly, nothing lost, healthy
    assert len(records) == 1 + WRITERS * EACH  # seq 1 is journal.created: no stray notes
    ordered = sorted(records.values(), key=lambda record: record.seq)
    for i in range(WRITERS):
        counters = [r.payload["n"] for r in ordered if r.id == f"w{i}"]
        assert counters == list(range(EACH)), f"w{i}'s records are not in its own order"


def _runs(tmp_path: Path, runs: int) -> None:
    for run in range(runs):
        store = tmp_path / f"store-{run}"
        Journal.open(store, create=True).close()
        _race(store, tmp_path)


def test_eight_writers_five_runs(tmp_path: Path) -> None:
    _runs(tmp_path, 5)


@pytest.mark.soak
def test_eight_writers_soak(tmp_path: Path) -> None:
    _runs(tmp_path, 25)
