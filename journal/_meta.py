"""``journal/meta.json``: a rebuildable cache, never a source of truth.

It holds the store id, the format, a ``next_seq`` hint and the segment list. It can be
deleted at any time and is rebuilt from the segment listing plus a tail read. Its hint
only ever raises the next seq (so a seq is never reused), never lowers it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import orjson

from journal._segments import fsync_dir, write_all

FORMAT = 1


def read_meta(journal_dir: Path) -> dict[str, Any] | None:
    """The cached meta, or None if it is missing or unreadable (it will be rebuilt)."""
    try:
        meta = orjson.loads((journal_dir / "meta.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(meta, dict) or type(meta.get("next_seq")) is not int:
        return None
    return meta


def write_meta(journal_dir: Path, meta: dict[str, Any], *, durable: bool = True) -> None:
    """Replace meta.json atomically: temp file, fsync, rename, directory fsync."""
    tmp = journal_dir / f"meta.json.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    data = orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            write_all(fd, data)
            if durable:
                # without this fsync a crash after the rename can leave an empty meta.json
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, journal_dir / "meta.json")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(journal_dir)
