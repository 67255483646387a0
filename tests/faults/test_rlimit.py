"""A writer under RLIMIT_FSIZE hits the limit mid-record: nothing short is acknowledged."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal import Journal
from tests.faults._child import acked, check_store, spawn


@pytest.mark.parametrize("room", [1000, 4321, 20_000])
def test_file_size_limit_stops_the_writer(store: Path, tmp_path: Path, room: int) -> None:
    segment = next((store / "journal" / "segments").iterdir())
    limit = segment.stat().st_size + room
    out = tmp_path / "out.txt"
    child = spawn(store, out, "--batch-every", "4", "--fsize-limit", str(limit))
    _, errors = child.communicate(timeout=60)
    lines = out.read_text().splitlines()
    assert child.returncode == 3, errors.decode()
    assert lines[-1] == "stopped 27"  # EFBIG: the write hit the limit
    acknowledged = acked(out)
    assert len(acknowledged) == len(lines) - 1
    assert segment.stat().st_size == limit  # the last write was cut short at the limit
    records = check_store(store, acknowledged)
    head = max(records)
    with Journal.open(store) as journal:
        record = journal.append(kind="t.added", entity="t", id="after", payload={})
        notes = [r for r in journal.read(after=head) if r.kind == "journal.fragment_adjudicated"]
    assert [n.payload["verdict"] for n in notes] == ["torn"]
    assert notes[0].seq == head + 1 and record.seq == head + 2
    check_store(store, acknowledged)
