"""Find the end of the journal without reading it all: the last good record and any torn tail."""

from __future__ import annotations

import os
from dataclasses import dataclass

from journal._parse import Region, SegmentParser
from journal._record import MAX_BYTES, Record, decode
from journal._segments import Segment

_FIRST_WINDOW = 64 * 1024


@dataclass
class Tail:
    """The end of one segment: its size, last good seq, and the region after it, if any."""

    segment: Segment
    size: int
    last_seq: int | None
    region: Region | None


def read_tail(segment: Segment) -> Tail:
    """Parse the end of `segment`, widening the window until a whole record bounds it."""
    fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        window = _FIRST_WINDOW
        while True:
            start = max(0, size - window)
            base = start if start == 0 else _next_newline(fd, start, size)
            if base is not None:
                parser = SegmentParser(segment.name, fd, start=base, stop=size)
                for _ in parser:
                    pass
                # a window that starts inside a batch sees its later records as orphans:
                # only a good record proves the window reaches back far enough
                # (tests/faults/test_rlimit.py::test_a_batch_cut_after_a_large_batch_keeps_its_seqs)
                if start == 0 or parser.last_seq is not None:
                    return Tail(segment, size, parser.last_seq, parser.tail)
            window *= 4
    finally:
        os.close(fd)


def _next_newline(fd: int, start: int, stop: int) -> int | None:
    """The offset of the first newline at or after `start`, or None before `stop`."""
    at = start
    while at < stop:
        chunk = os.pread(fd, min(2 * MAX_BYTES, stop - at), at)
        found = chunk.find(b"\n")
        if found >= 0:
            return at + found
        at += len(chunk)
    return None


def last_seq(segments: list[Segment]) -> int | None:
    """The seq of the last good record in the newest segment that has one."""
    for segment in reversed(segments):
        seq = read_tail(segment).last_seq
        if seq is not None:
            return seq
    return None


def first_record(segment: Segment) -> Record | None:
    """The first good record of a segment, read from its first line only."""
    with open(segment.path, "rb") as handle:
        data = handle.read(2 * MAX_BYTES)
    for line in data.split(b"\n")[:-1]:
        if line:
            return decode(line)
    return None
