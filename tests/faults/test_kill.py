"""SIGKILL a writer at random moments: no acknowledged record is ever lost.

Each cycle starts a child that appends (single records and batches) and prints every
seq after its fsync returned, kills it with SIGKILL after a random delay, and checks the
store: every acknowledged record present and unchanged, seqs exactly 1..N, the scan
healthy (a torn tail is fine). The store is reused across cycles, so every cycle also
recovers from the previous kill.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
from pathlib import Path

import pytest

from journal import Journal
from tests.faults._child import Acked, acked, check_store, spawn, wait_for_output


def _kill_cycles(store: Path, tmp_path: Path, seed: int, cycles: int, segment_bytes: int) -> None:
    rng = random.Random(seed)
    acknowledged: list[Acked] = []
    for cycle in range(cycles):
        out = tmp_path / f"out-{cycle}.txt"
        child = spawn(
            store,
            out,
            "--name",
            f"k{cycle}",
            "--batch-every",
            "5",
            "--segment-bytes",
            str(segment_bytes),
        )
        wait_for_output(out, child)
        # land the kill anywhere: mid-write, mid-fsync, mid-roll, mid-recovery
        delay = 0.0 if rng.random() < 0.1 else rng.uniform(0.0, 0.06)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=delay)
        child.send_signal(signal.SIGKILL)
        _, errors = child.communicate()
        assert child.returncode == -signal.SIGKILL, errors.decode()
        acknowledged += acked(out)
        records = check_store(store, acknowledged)
    head = max(records)
    with Journal.open(store) as journal:
        record = journal.append(kind="fault.appended", entity="writer", id="after", payload={})
        notes = [r for r in journal.read(after=head) if r.kind.startswith("journal.")]
    assert record.seq == head + 1 + len(notes)
    assert all(note.payload["verdict"] == "torn" for note in notes)
    print(f"{cycles} kills, {len(acknowledged)} acknowledged records, head seq {head}")


def test_sigkill_loop(store: Path, tmp_path: Path, seed: int) -> None:
    _kill_cycles(store, tmp_path, seed, cycles=25, segment_bytes=64 * 1024 * 1024)


def test_roll_then_kill(store: Path, tmp_path: Path, seed: int) -> None:
    # tiny segments: the writer rolls every few records, so kills land around rolls
    _kill_cycles(store, tmp_path, seed, cycles=25, segment_bytes=1500)
    assert len(list((store / "journal" / "segments").iterdir())) > 10


@pytest.mark.soak
def test_sigkill_loop_soak(store: Path, tmp_path: Path, seed: int) -> None:
    _kill_cycles(store, tmp_path, seed, cycles=200, segment_bytes=20_000)
