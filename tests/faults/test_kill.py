"""SIGKILL writers at random moments and right around rolls: no acknowledged record is lost.

Each cycle starts an appender child (single appends and batches; it prints each record
only after its fsync returned), kills it with SIGKILL, and checks the store with
`verify_store`: every acknowledged record present with its crc and payload, seqs exactly
1..N (the journal's notes included), the scan healthy (a torn tail, or the temp file of
an interrupted meta.json write, is only a finding of lesser severity). All cycles
reuse one store, so each child also recovers from the previous kill; on some cycles the
parent appends instead and checks that it gets the next seq (`append_next`).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from journal import DEFAULT_SEGMENT_BYTES, Journal, Record
from tests.faults.conftest import Ack, Appender, append_next, verify_store

# a kill mid-write leaves a torn tail, and one during a meta.json write its temp file
KILL_FINDINGS = ("torn_tail", "stray_temp_file")
SMALL_SEGMENT = 4096  # a roll every ~20 records: random kills often land near one

# Where test_roll_then_kill stops a child (see tools/faults/appender.py --stop-at): a kill
# only loses what is not yet written, so each point is a distinct state on disk.
ROLL_POINTS = {
    "segment-created": "segdir:before",  # new segment empty, meta.json not yet updated
    "meta-tmp-written": "metatmp:after",  # meta.json's temp file fsynced, not renamed
    "meta-renamed": "journaldir:after",  # meta.json names the new segment, which is empty
    "first-record-written": "data:before",  # the new segment's first write, not fsynced
    "first-record-synced": "data:after",  # fsynced, the caller was not yet told
}


def _check(store: Path, rng: random.Random, acks: list[Ack], *, last: bool) -> list[Record]:
    """Verify the store; on a third of the cycles (and the last) also append next."""
    records = verify_store(store, acks, allowed=KILL_FINDINGS)
    for note in records:
        if note.kind == "journal.fragment_adjudicated":  # a kill never spoils a whole record
            assert note.payload["verdict"] == "torn" and note.payload["skipped"] is None, note
    if last or rng.random() < 1 / 3:
        append_next(store, len(records))
    return records


def _kill_cycles(store: Path, spawn: Callable[..., Appender], seed: int, cycles: int) -> None:
    rng = random.Random(seed)
    acks: list[Ack] = []
    for cycle in range(cycles):
        size = SMALL_SEGMENT if rng.random() < 0.5 else DEFAULT_SEGMENT_BYTES
        big = rng.random() < 0.4  # all batches of big records: writes of 100 to 300 KB
        child = spawn(
            store,
            *("--name", f"k{cycle}", "--segment-bytes", str(size)),
            *("--batch-every", "1" if big else str(rng.randint(1, 5))),
            *("--pad", "60000" if big else "200"),
        )
        child.wait_for("ready")
        # the child's first append recovers from the last kill: a delay near 0 kills it there
        time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.005), rng.uniform(0.0, 0.06)]))
        child.kill()
        acks += child.acks()
        records = _check(store, rng, acks, last=cycle == cycles - 1)
    segments = len(list((store / "journal" / "segments").iterdir()))
    torn = sum(record.kind == "journal.fragment_adjudicated" for record in records)
    print(f"{cycles} kills: {len(acks)} acks, {segments} segments, {torn} torn writes adjudicated")
    assert len(acks) > cycles, "the children were killed before they appended anything"
    assert segments > 1, "no cycle rolled a segment"


def test_sigkill_loop(store: Path, spawn: Callable[..., Appender], seed: int) -> None:
    _kill_cycles(store, spawn, seed, cycles=25)


@pytest.mark.soak
def test_sigkill_loop_soak(store: Path, spawn: Callable[..., Appender], seed: int) -> None:
    _kill_cycles(store, spawn, seed, cycles=200)


def _roll_kills(
    store: Path, spawn: Callable[..., Appender], seed: int, point: str, cycles: int
) -> None:
    rng = random.Random(seed)
    acks: list[Ack] = []
    for cycle in range(cycles):
        before = len(list((store / "journal" / "segments").iterdir()))
        roll = rng.randint(1, 3)
        child = spawn(
            store,
            *("--name", f"r{cycle}", "--batch-every", str(rng.randint(1, 5))),
            *("--segment-bytes", str(SMALL_SEGMENT), "--stop-at", f"{roll}:{point}"),
        )
        assert child.finish() == -signal.SIGKILL, child.stderr()  # it SIGKILLed itself at the point
        assert child.lines()[-1].startswith(f"at {roll}:{point} "), child.lines()[-1:]
        acks += child.acks()
        assert len(list((store / "journal" / "segments").iterdir())) == before + roll
        _check(store, rng, acks, last=cycle == cycles - 1)


@pytest.mark.parametrize("point", ROLL_POINTS.values(), ids=ROLL_POINTS.keys())
def test_roll_then_kill(store: Path, spawn: Callable[..., Appender], seed: int, point: str) -> None:
    _roll_kills(store, spawn, seed, point, cycles=4)


@pytest.mark.soak
@pytest.mark.parametrize("point", ROLL_POINTS.values(), ids=ROLL_POINTS.keys())
def test_roll_then_kill_soak(
    store: Path, spawn: Callable[..., Appender], seed: int, point: str
) -> None:
    _roll_kills(store, spawn, seed, point, cycles=40)


def test_a_kill_mid_meta_write_leaves_a_temp_file_the_scan_names(
    store: Path, spawn: Callable[..., Appender]
) -> None:
    child = spawn(store, "--segment-bytes", str(SMALL_SEGMENT), "--stop-at", "1:metatmp:after")
    assert child.finish() == -signal.SIGKILL, child.stderr()
    temps = list((store / "journal").glob("meta.json.tmp-*"))
    assert len(temps) == 1, "the kill left no temp file: the stop point moved"
    records = verify_store(store, child.acks(), allowed=KILL_FINDINGS)
    append_next(store, len(records))
    with Journal.open(store) as journal:
        findings = journal.scan().findings
    # the next writer may sweep it; if it is still there, the scan names it
    named = [f for f in findings if f.code == "stray_temp_file" and temps[0].name in f.message]
    assert not temps[0].exists() or [f.severity for f in named] == ["warning"], findings
