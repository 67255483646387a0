"""Find the end of the journal without reading it all: the last good record and any torn tail."""

from __future__ import annotations

import os
from dataclasses import dataclass

from journal._parse import Region, parse_segment, region_sha256
from journal._record import MAX_BYTES, Record, decode
from journal._segments import Segment

_WINDOW = 4 * MAX_BYTES


@dataclass
class Tail:
    """The end of one segment: its size, last good seq, and the region after it, if any."""

    segment: Segment
    size: int
    last_seq: int | None
    region: Region | None
    region_sha256: str | None


def read_tail(segment: Segment) -> Tail:
    """Parse the end of `segment`, widening the window until a whole record bounds it."""
    with open(segment.path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        window = _WINDOW
        while True:
            start = max(0, size - window)
            handle.seek(start)
            data = handle.read(size - start)
            cut = 0 if start == 0 else data.find(b"\n")
            if cut >= 0:
                base = start + cut
                parsed = parse_segment(segment.name, data[cut:], base=base)
                if start == 0 or parsed.end_of_records > base:
                    break
            if start == 0:
                break
            window *= 4
    last = parsed.records[-1].seq if parsed.records else None
    region = parsed.tail
    digest = region_sha256(data[cut:], region, base) if region is not None else None
    return Tail(segment, size, last, region, digest)


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
        data = handle.read(_WINDOW)
    for line in data.split(b"\n")[:-1]:
        if line:
            return decode(line)
    return None
