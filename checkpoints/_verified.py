"""Files already hashed right, known by what `stat` says of them, as git's index knows its
work tree: a checkpoint built on the one before need not hash again every file it shares.

``checkpoints/.verified`` maps a file's identity (device, inode, size and mtime in
nanoseconds) to the sha256 it hashed to. Every write to a file moves its mtime, so a file
written since it was hashed is hashed again (tests/checkpoints/test_verified.py flips a
byte and is caught); a file copied or restored in its place is another inode. Not the
ctime: sharing a file with a new checkpoint (a hard link) moves its ctime, and would
make every shared file a stranger. A file is remembered only if its mtime is SETTLE_NS
older than the hash, so a write within one timestamp tick of the hash cannot pass for the
file that was hashed. What no write made (a disk returning other bytes, or someone
setting an mtime back by hand) is beyond it: `checkpoint verify`, `segments archive` and
the doctor hash every file, always, and do not read this cache.

It is a cache: lost, damaged or stale, it costs a hash and never an answer. It is written
by `journal.replace_durably` (temp file and rename, never through a symlink) without the
fsyncs.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from pathlib import Path

import orjson

from journal import LakehouseError, open_dir, replace_durably

NAME = ".verified"
SETTLE_NS = 2_000_000_000
_MAX_ENTRIES = 100_000  # a store has tens of files per checkpoint: this is a guard only


def identity(info: os.stat_result) -> str:
    """What `stat` says of a file that any write to it changes (and a link does not)."""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


class Verified:
    """The files of checkpoints/ known to hash right, loaded once and saved by `save`."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / NAME
        self.known: dict[str, str] = {}
        self.seen: set[str] = set()  # the identities met this time (the rest is dropped)
        self.changed = False
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO never blocks
        try:
            fd = os.open(self.path, flags)
        except OSError:
            return  # none yet, or a symlink: start empty
        try:
            with os.fdopen(fd, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    return  # a FIFO, a device, a directory: not ours, start empty
                loaded = orjson.loads(file.read())
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(loaded, dict):
            self.known = {k: v for k, v in loaded.items() if isinstance(v, str)}

    def hashed_right(self, info: os.stat_result, sha256: str) -> bool:
        """True if the file `info` describes was hashed to `sha256` and not written since."""
        key = identity(info)
        self.seen.add(key)
        return self.known.get(key) == sha256

    def remember(self, info: os.stat_result, sha256: str, hashed_at_ns: int) -> None:
        """Note that the file `info` describes (stat'ed before hashing) hashed to `sha256`."""
        if hashed_at_ns - info.st_mtime_ns < SETTLE_NS:
            return  # written too recently: a write in the same tick could hide
        key = identity(info)
        self.seen.add(key)
        if self.known.get(key) != sha256:
            self.known[key] = sha256
            self.changed = True

    def save(self) -> None:
        """Write what is known of the files met this time (a failure is ignored: a cache)."""
        kept = {key: self.known[key] for key in self.seen if key in self.known}
        if not self.changed and len(kept) == len(self.known):
            return
        if len(kept) > _MAX_ENTRIES:
            return
        directory = self.path.parent
        with contextlib.suppress(OSError, LakehouseError):  # a symlinked checkpoints/ too
            dir_fd = open_dir(directory.parent, directory.name)
            try:
                data = orjson.dumps(kept)
                shown = f"{directory.name}/{NAME}"
                replace_durably(dir_fd, NAME, data, shown=shown, hidden=False, durable=False)
            finally:
                os.close(dir_fd)
        self.known, self.changed = kept, False


def now_ns() -> int:
    """The wall clock in nanoseconds (what mtime is measured against)."""
    return time.time_ns()
