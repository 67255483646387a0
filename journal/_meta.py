"""``journal/meta.json``: a rebuildable cache, never a source of truth.

It holds the store id, the format, a ``next_seq`` hint and the segment list. It can be
deleted at any time and is rebuilt from the segment listing plus a tail read. Its hint
only ever raises the next seq (so a seq is never reused), never lowers it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import orjson

from journal._files import replace_durably

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
    data = orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n"
    # without its fsyncs a crash after the rename can leave an empty meta.json
    replace_durably(
        dir_fd, "meta.json", data, shown="journal/meta.json", hidden=False, durable=durable
    )
