"""Replacing a small derived file whole: a temp file, fsync, rename, directory fsync."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from journal import open_at, open_dir


def write_atomic(root: Path, relpath: str, data: bytes) -> None:
    """Replace `root/relpath` with `data` whole: readers see the old file or the new one.

    Its directory is reached without following a symlink (made if missing), the temp file
    is new (O_EXCL), and the rename replaces whatever holds the name without writing
    through it (tests/journal/test_symlinks.py).
    """
    parent, _, name = relpath.rpartition("/")
    dir_fd = open_dir(root, parent, create=True)
    try:
        tmp = f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = open_at(dir_fd, tmp, flags, shown=f"{parent}/{tmp}")
        try:
            with open(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)  # or a crash can bring back the old file under its name
    finally:
        os.close(dir_fd)
