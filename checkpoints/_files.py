"""File plumbing: the relative paths a checkpoint may hold, and new files written durably.

A relative path is checked before anything is written: it stays inside the checkpoint
(no absolute path, no ``..``), has one spelling (no ``.``, empty or backslash parts, so
the manifest names each file exactly once), and is not ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from checkpoints._errors import CheckpointRefused
from journal import file_sha256, write_all

MANIFEST = "manifest.json"
_CHUNK = 1 << 20
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


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


def copy_new(source: Path, path: Path) -> tuple[str, int]:
    """Create `path` as a copy of `source`, fsynced; hash it on the way through."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as reader:
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
