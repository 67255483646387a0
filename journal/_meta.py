"""``journal/meta.json``: a rebuildable cache, never a source of truth.

It holds the store id, the format, a ``next_seq`` hint and the segment list. It can be
deleted at any time and is rebuilt from the segment listing plus a tail read. Its hint
only ever raises the next seq (so a seq is never reused), never lowers it. `check_meta`
says how it stands against the journal on disk (the doctor reports it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from journal._files import replace_durably

FORMAT = 1
META = "journal/meta.json"  # relative to the store root
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


MetaState = Literal["current", "missing", "unreadable", "no_next_seq", "absurd", "ahead", "behind"]


@dataclass(frozen=True)
class MetaCheck:
    """What ``journal/meta.json`` says against the journal on disk (`Journal.check_meta`).

    `state` is the one thing to say: ``current``; ``missing``, ``unreadable`` (`error`
    says why) or ``no_next_seq``; its `next_seq` hint ``absurd`` (more than MAX_SKIP past
    `expected`, or not a seq), ``ahead`` of `expected` (head + 1: seqs handed out and not
    on disk) or ``behind`` (a lower hint or another segment list: normal after a kill).
    `other_store` is the store id of the journal.created record when meta.json names
    another one (`store_id`), whatever the state.
    """

    state: MetaState
    expected: int
    next_seq: int | None = None
    error: str | None = None
    store_id: Any = None
    other_store: str | None = None
    listed: int = 0  # segments meta.json lists
    live: int = 0  # segments in journal/segments/


def check_meta(
    journal_dir: Path,
    *,
    head: int,
    live: list[str],
    created: Callable[[], str | None],
    max_skip: int,
) -> MetaCheck:
    """Classify meta.json against a journal ending at `head` with the segments `live`.

    `created` gives the store id of the journal.created record (read only when needed).
    meta.json is read by path, whatever it is: a symlink is reported by the unsafe scan.
    """
    expected = head + 1
    try:
        meta = orjson.loads((journal_dir / "meta.json").read_bytes())
    except FileNotFoundError:
        return MetaCheck("missing", expected)
    except (OSError, orjson.JSONDecodeError) as exc:
        return MetaCheck("unreadable", expected, error=str(exc))
    hint = meta.get("next_seq") if isinstance(meta, dict) else None
    if type(hint) is not int:
        return MetaCheck("no_next_seq", expected)
    origin = created()
    other = origin if origin is not None and meta.get("store_id") != origin else None
    listed = meta.get("segments")
    state: MetaState = "current"
    if not 1 <= hint <= expected + max_skip:
        state = "absurd"
    elif hint > expected:
        state = "ahead"
    elif hint < expected or listed != live:
        state = "behind"
    return MetaCheck(
        state,
        expected,
        next_seq=hint,
        store_id=meta.get("store_id"),
        other_store=other,
        listed=len(listed) if isinstance(listed, list) else 0,
        live=len(live),
    )
