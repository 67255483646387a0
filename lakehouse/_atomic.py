"""Replacing a small derived file whole: a temp file, fsync, rename, directory fsync."""

from __future__ import annotations

import os
from pathlib import Path

from journal import open_dir, replace_durably


def write_atomic(root: Path, relpath: str, data: bytes) -> None:
    """Replace `root/relpath` with `data` whole: readers see the old file or the new one.

    Its directory is reached without following a symlink (made if missing), the temp file
    is new (O_EXCL), and the rename replaces whatever holds the name without writing
    through it (tests/journal/test_symlinks.py); the directory is fsynced after the rename,
    or a crash can bring back the old file under its name.
    """
    parent, _, name = relpath.rpartition("/")
    dir_fd = open_dir(root, parent, create=True)
    try:
        replace_durably(dir_fd, name, data, shown=relpath)
    finally:
        os.close(dir_fd)
