"""Spawn tools/faults/writer.py children and read back what they acknowledged."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from journal import Journal, Record

WRITER = Path(__file__).resolve().parents[2] / "tools" / "faults" / "writer.py"
Acked = tuple[int, str, int]  # seq, writer name, the writer's own counter


def spawn(store: Path, out: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start a writer child whose acknowledgements go to the file `out`."""
    with open(out, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, str(WRITER), str(store), *args], stdout=handle, stderr=subprocess.PIPE
        )


def wait_for_output(out: Path, child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Block until the child acknowledged at least one record (or died)."""
    deadline = time.monotonic() + timeout
    while out.stat().st_size == 0:
        if child.poll() is not None:
            raise AssertionError(f"writer exited early: {child.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError("writer printed nothing in time")
        time.sleep(0.002)


def acked(out: Path) -> list[Acked]:
    """The records a child printed as acknowledged (a line cut by the kill is ignored)."""
    lines = out.read_bytes().split(b"\n")[:-1]
    result = []
    for line in lines:
        if line.startswith(b"stopped"):
            continue
        seq, name, counter = line.split()
        result.append((int(seq), name.decode(), int(counter)))
    return result


def check_store(store: Path, acknowledged: Sequence[Acked]) -> dict[int, Record]:
    """Every acknowledged record is there, seqs are exactly 1..N, and the scan is healthy."""
    with Journal.open(store) as journal:
        records = {record.seq: record for record in journal.read()}
        report = journal.scan()
    seqs = sorted(records)
    assert seqs == list(range(1, len(seqs) + 1)), "seqs are not exactly 1..N"
    lost = [
        item
        for item in acknowledged
        if item[0] not in records
        or (records[item[0]].payload.get("writer"), records[item[0]].payload.get("n"))
        != (item[1], item[2])
    ]
    assert not lost, f"acknowledged records lost or changed: {lost[:5]}"
    assert report.healthy, report.findings
    return records
