"""Durable-file primitives every layer writes with: a full write, a directory fsync, a
whole-file replace, and a file's sha256.

They are the journal's own (segments, meta.json) and the public API for the layers above,
so that each durability rule is written once: a new or renamed name is durable only once
its directory is fsynced, a file is renamed into place only after its data is fsynced,
and a temp file is always new (``O_EXCL``, no symlink followed: journal/_safe.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
from pathlib import Path

from journal._safe import open_at

_CHUNK = 1 << 20
_TEMP = re.compile(r"\.?.+\.tmp-[0-9a-f]+(-[0-9a-f]+)?")  # a temp file's name: see is_temp_name


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of `data`; a short count is continued, an error propagates.

    A regular file returns a short count only when it hits a limit (ENOSPC, RLIMIT_FSIZE)
    or a signal; the next call then either finishes the record or raises, so a record is
    never reported written when only part of it is (tests/faults/test_enospc.py).
    """
    written = os.write(fd, data)
    if written == len(data):
        return
    if written <= 0:
        raise OSError(errno.ENOSPC, "write made no progress")
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "write made no progress")
        view = view[written:]


def fsync_dir(directory: Path | str | int) -> None:
    """fsync a directory (a path, or an open descriptor) so that the names created or
    renamed in it survive a crash."""
    if isinstance(directory, int):
        os.fsync(directory)
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(
    dir_fd: int,
    name: str,
    data: bytes,
    *,
    shown: str,
    hidden: bool = True,
    durable: bool = True,
) -> None:
    """Replace file `name` in the directory `dir_fd` with `data` whole: temp file, fsync,
    rename, directory fsync. Readers see the old file or the new one, never a mix.

    The temp file (``.<name>.tmp-<pid>-<random>``, or without the dot unless `hidden`) is
    new (``O_EXCL``, never a symlink), and the rename replaces whatever holds the name
    without writing through it (tests/journal/test_symlinks.py). `shown` is the path of
    `name` relative to the store root, for errors. Without `durable`, both fsyncs are
    skipped (a cache that may be lost in a crash).
    """
    tmp = f"{'.' if hidden else ''}{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    parent = shown.rpartition("/")[0]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = open_at(dir_fd, tmp, flags, shown=f"{parent}/{tmp}" if parent else tmp)
    try:
        try:
            write_all(fd, data)
            if durable:
                # without this fsync a crash after the rename can leave an empty file
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    if durable:
        fsync_dir(dir_fd)  # or a crash can bring back the old file under its name


def is_temp_name(name: str) -> bool:
    """True if `name` is a temp file's, as `replace_durably` names them (``[.]<name>.tmp-
    <pid>-<random hex>``, and a stream's spool, lakehouse/catalog/_inputs.py, likewise;
    earlier versions wrote ``.tmp-<pid>``): one that outlives its write was left by a
    kill, and is never read."""
    return _TEMP.fullmatch(name) is not None


def file_sha256(file: int | Path | str) -> tuple[str, int]:
    """The sha256 (hex) and size of a file, given open (read by preads from its start) or
    by path (opened, read in full, closed)."""
    if not isinstance(file, int):
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return file_sha256(fd)
        finally:
            os.close(fd)
    digest = hashlib.sha256()
    at = 0
    while block := os.pread(file, _CHUNK, at):
        digest.update(block)
        at += len(block)
    return digest.hexdigest(), at
