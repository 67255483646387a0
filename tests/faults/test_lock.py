"""The store lock: a busy store names its holder; a dead holder frees it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from journal import Journal, LockTimeout

_HOLDER = """
import sys, time
from pathlib import Path
from journal._lock import StoreLock
lock = StoreLock(Path(sys.argv[1]))
lock.acquire(10)
print("held", flush=True)
time.sleep(120)
"""


def _hold(store: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def test_busy_store_names_the_holder_and_appends_nothing(store: Path) -> None:
    child = _hold(store)
    try:
        with Journal.open(store, lock_timeout=0.2) as journal:
            head = journal.head_seq
            started = time.monotonic()
            with pytest.raises(LockTimeout) as raised:
                journal.append(kind="t.added", entity="t", id="x", payload={})
            waited = time.monotonic() - started
            assert journal.head_seq == head
        message = str(raised.value)
        assert message.startswith(f"store busy: held by writer {child.pid}-")
        assert " since 20" in message
        assert raised.value.exit_code == 6
        assert 0.2 <= waited < 1.0
    finally:
        child.kill()
        child.communicate()


def test_a_killed_holder_frees_the_lock_within_a_second(store: Path) -> None:
    child = _hold(store)
    with Journal.open(store, lock_timeout=10) as journal:
        child.send_signal(signal.SIGKILL)
        child.communicate()
        started = time.monotonic()
        record = journal.append(kind="t.added", entity="t", id="x", payload={})
        took = time.monotonic() - started
    assert record.seq == 2
    assert took < 1.0, f"took {took:.3f} s to get the lock after its holder died"


def test_two_journals_in_one_process_exclude_each_other(store: Path) -> None:
    with Journal.open(store) as first, Journal.open(store, lock_timeout=0.1) as second:
        first._writer.lock.acquire(1)
        try:
            with pytest.raises(LockTimeout):
                second.append(kind="t.added", entity="t", id="x", payload={})
        finally:
            first._writer.lock.release()
        assert second.append(kind="t.added", entity="t", id="x", payload={}).seq == 2
