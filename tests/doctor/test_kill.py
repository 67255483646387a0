"""A SIGKILL storm leaves a healthy store: `doctor --verify-journal` exits 0 after it.

Each cycle releases several appender children at once on the same store (they contend
for the lock, each append fsynced before it is acknowledged), waits until every one has
acknowledged records, and SIGKILLs them all at once, mid-append or between appends.
Before them, a writer under a file size limit cuts a record short, so every cycle has a
torn write for the next writer to adjudicate, whatever the kills' timing. The
store is then reopened once, so the last torn write is adjudicated by a writer, as it is
in real life; the fragments the children left for each other were adjudicated by the
next child to take the lock. Adjudicated fragments are healthy; nothing else may show.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from journal import Journal
from lakehouse import Store
from lakehouse.doctor import verify
from tests.doctor._util import Built, doctor
from tests.faults.conftest import Ack, Appender

WRITERS = 3


def _storm(root: Path, spawn: Callable[..., Appender], seed: int, cycles: int) -> list[Ack]:
    rng = random.Random(seed)
    acks: list[Ack] = []
    for cycle in range(cycles):
        acks += _cut(root, spawn, rng, f"c{cycle}cut")
        children = []
        for n in range(WRITERS):
            big = rng.random() < 0.5  # batches of 30-100 KB: a kill can land inside a write
            children.append(
                spawn(
                    root,
                    *("--name", f"c{cycle}w{n}", "--segment-bytes", "8192", "--wait-stdin"),
                    *("--batch-every", "1" if big else str(rng.randint(1, 4))),
                    *("--pad", "20000" if big else "300"),
                )
            )
        for child in children:
            child.wait_for("ready")
        for child in children:
            child.start()
        for child in children:
            child.wait_for("ack ")  # the first one to append adjudicates the cut record
        for child in children:
            child.kill()
            acks += child.acks()
    # reopen once: the writer adjudicates the torn tail the last kill may have left
    with Journal.open(root) as journal, journal.transaction():
        pass
    return acks


def _cut(root: Path, spawn: Callable[..., Appender], rng: random.Random, name: str) -> list[Ack]:
    """A writer whose file size limit cuts a record short: a torn write, for sure.

    It never rolls, so it writes into the active segment until a write crosses the limit,
    which writes up to the limit and fails (EFBIG): the writer stops for good
    (tests/faults/test_rlimit.py), leaving the cut record for the next writer.
    """
    with Journal.open(root) as journal:
        size = journal.segments()[0][-1].path.stat().st_size
    child = spawn(
        root,
        *("--name", name, "--segment-bytes", str(1 << 30), "--pad", "300"),
        *(
            "--batch-every",
            str(rng.randint(1, 4)),
            "--fsize-limit",
            str(size + rng.randint(100, 3000)),
        ),
    )
    assert child.finish() == 3, child.stderr()
    return child.acks()


def _storm_then_verify(
    built: Built, spawn: Callable[..., Appender], seed: int, cycles: int
) -> None:
    acks = _storm(built.root, spawn, seed, cycles)
    with Journal.open(built.root) as journal:
        records = list(journal.read())
    by_seq = {record.seq: (record.crc, record.payload) for record in records}
    assert all(by_seq.get(ack.seq) == (ack.crc, ack.payload) for ack in acks), "acks lost"
    fragments = sum(record.kind == "journal.fragment_adjudicated" for record in records)
    print(f"{len(acks)} acks, {len(records)} records, {fragments} fragments adjudicated")
    with Store.open(built.root, checkpoint_every=0) as store:
        store.checkpoint()  # a checkpoint over the storm: its segments, its tables
    code, report, _ = doctor(built.root, "--verify-journal")
    errors = [finding for finding in report["findings"] if finding["severity"] == "error"]
    assert (code, errors) == (0, []), report
    assert report["counts"]["adjudicated_fragments"] == fragments >= 1
    assert report["counts"]["records"] == len(records)
    assert report["counts"]["segments_hashed"] >= 2
    assert verify(built.root).healthy


def test_a_sigkill_storm_leaves_a_store_that_verifies_clean(
    built: Built, spawn: Callable[..., Appender], seed: int
) -> None:
    _storm_then_verify(built, spawn, seed, cycles=4)


@pytest.mark.soak
def test_a_sigkill_storm_soak(built: Built, spawn: Callable[..., Appender], seed: int) -> None:
    _storm_then_verify(built, spawn, seed, cycles=40)
