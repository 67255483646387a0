"""Segment files: names, listing, and the directory fsync that makes a new name durable."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import NamedTuple

SEGMENT_DIGITS = 20
_NAME = re.compile(r"(\d{20})\.jsonl")


class Segment(NamedTuple):
    """A segment file: the seq its name says it starts at, and its path."""

    first_seq: int
    path: Path

    @property
    def name(self) -> str:
        """The file name, e.g. 00000000000000000001.jsonl."""
        return self.path.name


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first record has seq `first_seq`."""
    return f"{first_seq:0{SEGMENT_DIGITS}d}.jsonl"


def is_segment_name(name: str) -> bool:
    """True if `name` is a segment's file name (20 digits and .jsonl)."""
    return _NAME.fullmatch(name) is not None


def list_segments(directory: Path) -> tuple[list[Segment], list[Path]]:
    """The segments in `directory` sorted by first seq, and any other entries found there.

    Only a regular file is a segment: a symlink under a segment's name is a stray, never
    read or written (tests/journal/test_symlinks.py).
    """
    segments: list[Segment] = []
    strays: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return [], []
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if match and entry.is_file(follow_symlinks=False):
            segments.append(Segment(int(match.group(1)), Path(entry.path)))
        else:
            strays.append(Path(entry.path))
    segments.sort()
    strays.sort()
    return segments, strays


def fsync_dir(directory: Path) -> None:
    """fsync a directory so that a file created or renamed in it keeps its name after a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
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
