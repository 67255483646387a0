"""The store lock: a busy store names its holder; a holder killed mid-append frees it at once.

The holder is an appender child stopped inside an append while it holds the lock (its
write done, its fsync not yet), inside a batch, or inside a roll; see
tools/faults/appender.py --stop-at ... --then hold.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journal import Journal, LockTimeout
from tests.faults.conftest import Appender, append_next, verify_store

HOLDERS = {
    "mid-append": ("--stop-at", "0:data:before"),
    "mid-batch": ("--stop-at", "0:data:before", "--batch-every", "1"),
    "mid-roll": ("--stop-at", "1:segdir:before", "--segment-bytes", "2048"),
}
_TS = "%Y-%m-%dT%H:%M:%S.%fZ"
PARENT = {"writer": "parent", "n": 0}  # the parent's first record, as verify_store expects


def _hold(store: Path, spawn: Callable[..., Appender], holder: str) -> tuple[Appender, str]:
    """Start a child that stops while holding the lock; the child and its writer id."""
    child = spawn(store, "--name", "holder", *HOLDERS[holder], "--then", "hold")
    writer = child.wait_for("at ").split()[2]
    return child, writer


@pytest.mark.parametrize("holder", HOLDERS)
def test_busy_store_names_the_holder_and_appends_nothing(
    store: Path, spawn: Callable[..., Appender], holder: str
) -> None:
    started = datetime.now(UTC) - timedelta(milliseconds=1)
    child, writer = _hold(store, spawn, holder)
    with Journal.open(store, lock_timeout=0.2) as journal:
        before = list(journal.read())
        clock = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            journal.append(kind="t.added", entity="t", id="x", payload={})
        waited = time.monotonic() - clock
        assert list(journal.read()) == before and journal.head_seq == before[-1].seq
    match = re.fullmatch(r"store busy: held by writer (\S+) since (\S+)", str(raised.value))
    assert match and match[1] == writer, str(raised.value)
    since = datetime.strptime(match[2], _TS).replace(tzinfo=UTC)
    assert started <= since <= datetime.now(UTC), match[2]
    assert raised.value.fields["writer"] == writer and raised.value.exit_code == 6
    assert waited >= 0.2
    child.kill()
    verify_store(store, child.acks())


@pytest.mark.parametrize("holder", HOLDERS)
def test_a_holder_killed_mid_append_frees_the_lock_within_a_second(
    store: Path, spawn: Callable[..., Appender], holder: str
) -> None:
    child, _ = _hold(store, spawn, holder)
    with Journal.open(store, lock_timeout=10) as journal:
        head = journal.head_seq
        assert head is not None
        clock = time.monotonic()
        child.proc.send_signal(signal.SIGKILL)
        record = journal.append(kind="t.added", entity="t", id="x", payload=PARENT)
        took = time.monotonic() - clock
    assert child.finish() == -signal.SIGKILL
    print(f"{holder}: the next writer got the lock {took * 1000:.1f} ms after the SIGKILL")
    assert took < 1.0, f"took {took:.3f} s to get the lock after its holder died"
    # the killed write was whole (only its fsync was pending), so nothing to adjudicate
    assert record.seq == head + 1
    records = verify_store(store, child.acks())
    append_next(store, records[-1].seq)


def test_two_journals_in_one_process_exclude_each_other(store: Path) -> None:
    with Journal.open(store) as first, Journal.open(store, lock_timeout=0.1) as second:
        first._writer.lock.acquire(1)
        try:
            with pytest.raises(LockTimeout):
                second.append(kind="t.added", entity="t", id="x", payload={})
        finally:
            first._writer.lock.release()
        assert second.append(kind="t.added", entity="t", id="x", payload={}).seq == 2
