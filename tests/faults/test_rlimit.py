"""A writer under RLIMIT_FSIZE hits the limit mid-record: it stops, nothing short is acknowledged.

Each cycle starts an appender child whose file size limit lies a random number of bytes
past the end of the active segment (SIGXFSZ ignored, so the write fails with EFBIG). The
child appends until a write fails and must report WriterStopped, twice (a stopped writer
stays stopped). Then, without the limit, every acknowledged record must be there whole,
and a new Journal appends with the next seq after adjudicating the cut record, if any.
Cycles reuse one store; on some, the next child adjudicates instead of the parent.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from journal import Journal, Record
from tests.faults.conftest import Ack, Appender, append_next, verify_store


def _fragment_left(segment: Path) -> bool:
    """True if the segment ends in what a cut write leaves, judged from its bytes alone.

    That is part of a line, or the first records of a batch without its last one.
    """
    lines = segment.read_bytes().split(b"\n")
    last = next(line for line in reversed(lines) if line)
    try:
        record = orjson.loads(last)  # a record, maybe short of its newline
    except orjson.JSONDecodeError:
        return True
    return "batch" in record and record["seq"] != record["batch"][1]


def _limited_child(
    store: Path, spawn: Callable[..., Appender], rng: random.Random, name: str
) -> tuple[list[Ack], bool]:
    """Run one child under a file size limit; what it acknowledged, and if it cut a record."""
    with Journal.open(store) as journal:
        segment = journal.segments()[0][-1].path
    # a limit under ~430 bytes away cuts the child's own fragment note, if it writes one
    limit = segment.stat().st_size + rng.randint(100, 40_000)
    child = spawn(
        store,
        *("--name", name, "--batch-every", str(rng.randint(1, 5))),
        *("--pad", str(rng.choice([200, 5000])), "--fsize-limit", str(limit)),
    )
    assert child.finish() == 3, child.stderr()
    assert child.lines()[-2:] == [f"stopped {errno.EFBIG}", "still-stopped"], child.lines()[-2:]
    assert segment.stat().st_size == limit  # the failed write ran up to the limit
    return child.acks(), _fragment_left(segment)


def _notes(records: list[Record]) -> list[Record]:
    return [r for r in records if r.kind == "journal.fragment_adjudicated"]


def _limit_cycles(store: Path, spawn: Callable[..., Appender], seed: int, cycles: int) -> None:
    rng = random.Random(seed)
    acks: list[Ack] = []
    records = verify_store(store, acks)
    regions = 0  # torn regions left: each needs exactly one note
    pending = False  # the last one is not adjudicated yet
    for cycle in range(cycles):
        before = len(_notes(records))
        new_acks, fragment = _limited_child(store, spawn, rng, f"r{cycle}")
        acks += new_acks
        records = verify_store(store, acks)
        noted = len(_notes(records)) - before  # by the child, adjudicating the last cut
        assert noted == 0 or (pending and noted == 1), _notes(records)[before:]
        if pending and not noted:  # the limit cut the child's note: one region grew
            assert fragment and not new_acks
        else:
            regions += fragment
        pending = fragment
        # the parent adjudicates the cut record now, or the next child does
        if cycle == cycles - 1 or rng.random() < 0.5:
            _, note = append_next(store, len(records))
            assert (note is not None) == pending, note
            pending = False
            records = verify_store(store, acks)
    notes = _notes(records)
    assert len(notes) == regions and all(n.payload["verdict"] == "torn" for n in notes), notes
    print(f"{cycles} writers stopped at the limit, leaving {regions} torn regions")


def test_file_size_limit_stops_the_writer(
    store: Path, spawn: Callable[..., Appender], seed: int
) -> None:
    _limit_cycles(store, spawn, seed, cycles=6)


@pytest.mark.soak
def test_file_size_limit_stops_the_writer_soak(
    store: Path, spawn: Callable[..., Appender], seed: int
) -> None:
    _limit_cycles(store, spawn, seed, cycles=100)


def test_a_batch_cut_after_a_large_batch_keeps_its_seqs(
    store: Path, spawn: Callable[..., Appender]
) -> None:
    # the tail read must widen its window past a batch it starts inside: from there that
    # batch's later records look void, and a writer that found no good record reused
    # acknowledged seqs (fixed in journal/_tail.py read_tail)
    # seqs 2, 3: one batch of a 40 KB and a 32 KB record
    first = spawn(store, "--name", "a", "--count", "2", "--batch-every", "1", "--pad", "40000")
    assert first.finish() == 0, first.stderr()
    with Journal.open(store) as journal:
        segment = journal.segments()[0][-1].path
    # a batch of two 10 KB records cut 15 KB in: with the 32 KB record before it that is
    # less than the 64 KiB first tail window, which thus starts inside the first batch
    limit = segment.stat().st_size + 15_000
    second = spawn(
        store, *("--name", "b", "--batch-every", "1", "--pad", "10000", "--fsize-limit", str(limit))
    )
    assert second.finish() == 3, second.stderr()
    assert not second.acks() and _fragment_left(segment)
    records = verify_store(store, first.acks())
    assert [r.seq for r in records] == [1, 2, 3]
    append_next(store, 3)  # head_seq 3; the note at 4, the record at 5
    verify_store(store, first.acks())
