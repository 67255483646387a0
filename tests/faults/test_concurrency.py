"""Eight writer processes contend for the lock: seqs stay unique, contiguous and ordered.

Each run starts 8 appender children on a fresh store (durability="always", the normal
lock), waits until every one has opened the journal, then releases them together; each
appends 500 records. Afterwards the store holds exactly seqs 1..4001 (seq 1 is the
journal.created note), every acknowledged record is there, and each writer's records
are in its own order. Each run is its own test, so a failing store is kept.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Appender, verify_store

WRITERS = 8
EACH = 500


def _race(store: Path, spawn: Callable[..., Appender], seed: int) -> None:
    names = [f"w{i}" for i in range(WRITERS)]
    children = {
        name: spawn(store, "--name", name, "--count", str(EACH), "--wait-stdin") for name in names
    }
    for child in children.values():
        child.wait_for("ready")  # imported and opened: released together, they contend
    random.Random(seed).shuffle(names)  # the order they are released in
    for name in names:
        children[name].start()
    # each needs >= 0.2 s for its 500 fsyncs: all are still running, so they contend
    assert all(child.proc.poll() is None for child in children.values())
    for child in children.values():
        assert child.finish(timeout=300) == 0, child.stderr()
    acks = [ack for child in children.values() for ack in child.acks()]
    assert len(acks) == WRITERS * EACH
    records = verify_store(store, acks, allowed=())  # 1..N, nothing lost, scan clean
    assert len(records) == 1 + WRITERS * EACH and records[0].kind == "journal.created"
    writers = [record.payload["writer"] for record in records[1:]]
    for name in names:
        ours = [r.payload["n"] for r in records[1:] if r.payload["writer"] == name]
        assert ours == list(range(EACH)), f"{name}'s records are missing or out of order"
    # for information: the lock is not fair (a waiter polls, the holder retakes it at once)
    switches = sum(a != b for a, b in itertools.pairwise(writers))
    print(f"the lock changed hands {switches} times in {WRITERS * EACH} appends")


@pytest.mark.parametrize("run", range(5))
def test_eight_writers(store: Path, spawn: Callable[..., Appender], seed: int, run: int) -> None:
    _race(store, spawn, seed)


@pytest.mark.soak
@pytest.mark.parametrize("run", range(40))
def test_eight_writers_soak(
    store: Path, spawn: Callable[..., Appender], seed: int, run: int
) -> None:
    _race(store, spawn, seed)
