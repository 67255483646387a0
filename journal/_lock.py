"""The exclusive store lock: an OS advisory lock (portalocker's flock) on ``<root>/LOCK``.

The LOCK file is created once and never deleted: deleting it would let two writers lock
two different inodes. The kernel drops the lock when its holder dies, so no lock is ever
"broken" by guessing that a pid is dead (tests/faults/test_lock.py). The holder writes its
name and the time it took the lock into the file, so a writer that times out can say who
holds it. LOCK is opened without following a symlink and must be a plain file with one
link, or the stamp would overwrite some other file (tests/journal/test_symlinks.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import orjson
import portalocker

from journal._errors import LockTimeout
from journal._record import utc_timestamp, writer_id
from journal._safe import UnsafeFile, open_file

_HOLDER_BYTES = 256
_EXCLUSIVE_NOW = portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
# The primitive portalocker locks with (flock on POSIX), called directly on the hot path:
# its lock()/unlock() wrappers spend ~5 us of flag arithmetic per append, ~4% of a
# durable append (tools/bench/journal_bench.py). Contended waits still go through it.
_flock = cast(Callable[[int, int], None], portalocker.portalocker.LOCKER)
_TRY_EXCLUSIVE = portalocker.LOCK_EX | portalocker.LOCK_NB


class StoreLock:
    """The store's writer lock; `acquire` waits up to a timeout, `release` gives it back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "LOCK"
        self._opened = -1  # opened on first use: a reader that never locks never opens it
        self.held = False

    @property
    def _fd(self) -> int:
        if self._opened < 0:
            self._opened = open_file(self.root, "LOCK", os.O_RDWR | os.O_CREAT)
        return self._opened

    def acquire(self, timeout: float) -> None:
        """Take the lock, polling with a short backoff; raise LockTimeout after `timeout` s."""
        try:
            _flock(self._fd, _TRY_EXCLUSIVE)
        except BlockingIOError:
            self._wait(timeout)
        self.held = True
        stamp = b'{"writer":"%s","since":"%s"}' % (writer_id().encode(), utc_timestamp().encode())
        os.pwrite(self._fd, stamp.ljust(_HOLDER_BYTES), 0)

    def _wait(self, timeout: float) -> None:
        """The lock is taken: poll for it with a short backoff until `timeout` s pass."""
        deadline = time.monotonic() + timeout
        pause = 0.001
        while True:
            try:
                portalocker.lock(self._fd, _EXCLUSIVE_NOW)
                return
            except portalocker.AlreadyLocked:
                now = time.monotonic()
                if now >= deadline:
                    holder = self.holder()
                    raise LockTimeout(
                        f"store busy: held by writer {holder.get('writer', '?')} "
                        f"since {holder.get('since', '?')}",
                        hint="wait for that writer to finish, or wait longer "
                        "(lakehouse --lock-timeout SECONDS)",
                        lock=str(self.path),
                        timeout=timeout,
                        **holder,
                    ) from None
                time.sleep(min(pause, deadline - now))
                pause = min(pause * 2, 0.01)  # flock has no queue: poll often

    def release(self) -> None:
        """Give the lock back."""
        if self.held:
            self.held = False
            _flock(self._fd, portalocker.LOCK_UN)

    def holder(self) -> dict[str, str]:
        """Who took the lock last, as written in the LOCK file (may be a past holder)."""
        try:
            raw = os.pread(self._fd, _HOLDER_BYTES, 0).strip()
            info = orjson.loads(raw) if raw else {}
        except (OSError, orjson.JSONDecodeError, UnsafeFile):
            return {}
        return {str(k): str(v) for k, v in info.items()} if isinstance(info, dict) else {}

    def is_held_elsewhere(self) -> bool:
        """True if another process or Journal holds the lock right now (takes and drops it)."""
        if self.held:
            return False
        try:
            portalocker.lock(self._fd, _EXCLUSIVE_NOW)
        except portalocker.AlreadyLocked:
            return True
        portalocker.unlock(self._fd)
        return False

    def close(self) -> None:
        """Release the lock if held and close the file (a second close does nothing)."""
        if self._opened >= 0:
            self.release()
            os.close(self._opened)
            self._opened = -1
