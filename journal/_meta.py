"""``journal/meta.json``: a rebuildable cache, never a source of truth.

It holds the store id, the format, a ``next_seq`` hint and the segment list. It can be
deleted at any time and is rebuilt from the segment listing plus a tail read. Its hint
only ever raises the next seq (so a seq is never reused), never lowers it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import orjson

from journal._segments import write_all

FORMAT = 1
_MAX_META = 64 << 20  # a meta.json lists segment names, ~30 bytes each


def read_meta(journal_dir: Path, *, dir_fd: int | None = None) -> dict[str, Any] | None:
    """The cached meta, or None if it is missing, unreadable or absurd (it will be rebuilt).

    A symlink is not followed: it reads as missing, and the next writer replaces it.
    """
    try:
        fd = os.open(
            "meta.json" if dir_fd is not None else journal_dir / "meta.json",
            os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
            dir_fd=dir_fd,
        )
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_META:
            return None
        meta = orjson.loads(os.pread(fd, info.st_size, 0))
    except (OSError, orjson.JSONDecodeError):
        return None
    finally:
        os.close(fd)
    if not isinstance(meta, dict) or type(meta.get("next_seq")) is not int:
        return None
    return meta


def write_meta(dir_fd: int, meta: dict[str, Any], *, durable: bool = True) -> None:
    """Replace meta.json in the directory `dir_fd` atomically: temp, fsync, rename, dir fsync.

    The temp file is created with O_EXCL and the rename replaces a symlink rather than
    following it, so meta.json never writes anywhere but journal/.
    """
    tmp = f"meta.json.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    data = orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
    try:
        try:
            write_all(fd, data)
            if durable:
                # without this fsync a crash after the rename can leave an empty meta.json
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, "meta.json", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    if durable:
        os.fsync(dir_fd)
