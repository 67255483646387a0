"""Segment files: their names and the listing of a segments directory."""

from __future__ import annotations

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
