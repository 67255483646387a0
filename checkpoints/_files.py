"""File plumbing: the relative paths a checkpoint may hold, and new files written durably.

A relative path is checked before anything is written: it stays inside the checkpoint
(no absolute path, no ``..``), has one spelling (no ``.``, empty or backslash parts, so
the manifest names each file exactly once), and is not ``manifest.json``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from checkpoints._errors import CheckpointRefused
from journal import file_sha256, open_at, open_dir, write_all

MANIFEST = "manifest.json"
_CHUNK = 1 << 20
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# where a filesystem cannot hard-link a file (another device, no links, too many): copied
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTSUP})


@dataclass(frozen=True)
class Shared:
    """A file another checkpoint holds, put in a new one as it is (no bytes written).

    `directory` is that checkpoint's path, `relpath` the file's path in it, and `sha256`
    and `size` what its manifest lists: the new manifest lists the same, so a file damaged
    since is as detectable in the new checkpoint as in the old. Checkpoint files are never
    written in place (each is created whole, O_EXCL), so one inode can serve many.
    """

    directory: Path
    relpath: str
    sha256: str
    size: int
    inode: int | None = None  # the inode the caller read (a pinned file): nothing else


def check_relpath(relpath: object) -> str:
    """`relpath` if it is a clean relative path inside a checkpoint; else CheckpointRefused."""
    if type(relpath) is not str or not relpath:
        raise CheckpointRefused(
            f"checkpoint file path {relpath!r} must be a non-empty string",
            hint="name each file by a relative path such as 'tables/traces.parquet'",
            file=relpath if isinstance(relpath, str) else repr(relpath),
        )
    parts = relpath.split("/")
    if relpath.startswith("/") or any(part in ("", ".", "..") for part in parts):
        why = "is absolute" if relpath.startswith("/") else "has an empty, '.' or '..' part"
    elif "\\" in relpath or "\x00" in relpath:
        why = "holds a backslash or a NUL"
    elif relpath == MANIFEST:
        why = "is the manifest's own name"
    else:
        return relpath
    raise CheckpointRefused(
        f"checkpoint file path {relpath!r} {why}",
        hint="use a relative path with '/' separators that stays inside the checkpoint",
        file=relpath,
    )


def check_layout(relpaths: Iterable[str]) -> None:
    """Refuse a set of paths where one file would have to be the directory of another."""
    paths = set(relpaths)
    for relpath in sorted(paths):
        parts = relpath.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in paths:
                raise CheckpointRefused(
                    f"checkpoint file {parent!r} is also the directory of {relpath!r}",
                    hint="give every file a path that no other file lies under",
                    file=parent,
                )


def write_new(path: Path, data: bytes) -> tuple[str, int]:
    """Create `path` holding `data`, fsynced; return its sha256 and size."""
    fd = os.open(path, _NEW, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return hashlib.sha256(data).hexdigest(), len(data)


def copy_new(source: Path | int, path: Path) -> tuple[str, int]:
    """Create `path` as a copy of `source` (a path, or a descriptor read from its start and
    left open), fsynced; hash it on the way through."""
    digest = hashlib.sha256()
    size = 0
    with open(os.dup(source) if isinstance(source, int) else source, "rb") as reader:
        reader.seek(0)
        fd = os.open(path, _NEW, 0o644)
        try:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
    return digest.hexdigest(), size


def sync_and_hash(path: Path) -> tuple[str, int]:
    """fsync a file someone else wrote, and return its sha256 and size."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
        return file_sha256(fd)
    finally:
        os.close(fd)


def share(source: Shared, path: Path) -> tuple[str, int]:
    """Create `path` as a hard link to the shared file (a copy where links fail).

    The file is reached through real directories only (`open_dir`), must be a regular file
    of its listed size, and the new name must end up on that very inode: a file swapped
    for a symlink meanwhile is refused, never linked (tests/checkpoints/test_shared.py).
    """
    parent, _, name = source.relpath.rpartition("/")
    shown = f"{source.directory.name}/{source.relpath}"
    dir_fd = open_dir(source.directory, parent)
    try:
        fd = open_at(dir_fd, name, os.O_RDONLY | os.O_CLOEXEC, shown=shown)
        try:
            info = os.fstat(fd)
            if source.inode is not None and info.st_ino != source.inode:
                raise CheckpointRefused(
                    f"{shown} is not the file that was read: its checkpoint was replaced",
                    hint="another process rewrote that checkpoint meanwhile: create it again",
                    file=source.relpath,
                )
            if info.st_size != source.size:
                raise CheckpointRefused(
                    f"{shown} has {info.st_size} bytes, its manifest says {source.size}",
                    hint="the checkpoint it comes from is damaged: 'lakehouse doctor' says "
                    "which, and '--repair' rebuilds it",
                    file=source.relpath,
                )
            try:
                os.link(name, path, src_dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                return _copy_checked(fd, path, source)
            linked = os.lstat(path)
            if not stat.S_ISREG(linked.st_mode) or linked.st_ino != info.st_ino:
                raise CheckpointRefused(
                    f"{shown} changed while it was being shared",
                    hint="something else is writing under checkpoints/: stop it and retry",
                    file=source.relpath,
                )
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)
    return source.sha256, source.size


def _copy_checked(fd: int, path: Path, source: Shared) -> tuple[str, int]:
    """Copy the open shared file to `path`, fsynced; refuse it if it hashes wrong."""
    if copy_new(fd, path) != (source.sha256, source.size):
        raise CheckpointRefused(
            f"{source.directory.name}/{source.relpath} does not match its manifest's sha256",
            hint="the checkpoint it comes from is damaged: 'lakehouse doctor' says which, "
            "and '--repair' rebuilds it",
            file=source.relpath,
        )
    return source.sha256, source.size
