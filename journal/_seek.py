"""Find where to start reading a segment for a cursor, without parsing what comes before.

A reader asked for the records after seq N needs only the part of the segment from a
record at or before N + 1. Seqs grow along a segment, so a bisection over byte offsets
finds such a record in a few probes: each probe decodes the first whole record after an
offset (its CRC checked, so a spoiled line is never trusted). A batch member is not a
place to start (a parser starting there would see an orphan), so a probe that lands in
a batch jumps to the record after the batch, found by its seq.

Skipping the bytes before the start skips no check that matters to the cursor: they hold
only records at or before N, which the reader would not hand out. `Journal.scan()` reads
every segment from its first byte.
"""

from __future__ import annotations

import os

from journal._record import MAX_BYTES, Record, decode

SEEK_MIN_BYTES = 128 * 1024  # below this, parsing from the start costs less than probing
_PROBE_BYTES = 64 * 1024


def seek_start(fd: int, size: int, after: int) -> int:
    """A byte offset of a record with seq <= after + 1 (or 0): where to start parsing."""
    best, lo, hi = 0, 0, size
    while hi - lo > _PROBE_BYTES:
        mid = (lo + hi) // 2
        found = _probe(fd, mid, size, after)
        if found is not None and found[1] <= after + 1:
            best = found[0]
            if found[1] == after + 1:
                break
            lo = max(mid, found[0]) + 1
        else:
            hi = mid
    return best


def _probe(fd: int, offset: int, size: int, after: int) -> tuple[int, int] | None:
    """(offset, seq) of the first record after `offset` that starts a read, or None.

    A batch member is no place to start. If its whole batch is at or before the cursor,
    the record right after the batch is (found by its seq); otherwise the probe answers
    None and the bisection looks further back, for the batch's start or earlier.
    """
    at, window = offset, _PROBE_BYTES
    while at < size:
        data = os.pread(fd, min(window, size - at), at)
        if not data:
            return None
        lines = data.split(b"\n")
        if at + len(data) < size:
            lines.pop()  # a piece cut by the window, not by a newline
        position = at
        for line in lines:
            start, position = position, position + len(line) + 1
            record = decode(line) if line else None
            if record is None:
                continue
            if record.batch_end is None or record.seq == record.batch_start:
                return start, record.seq
            if record.batch_end <= after:
                return _after_batch(fd, position - 1, size, record)
            return None
        if position > at:
            at, window = position, _PROBE_BYTES
        elif window <= 2 * MAX_BYTES:
            window *= 2  # one record longer than the window
        else:
            at += len(data)  # a long run of garbage
    return None


def _after_batch(fd: int, at: int, size: int, member: Record) -> tuple[int, int] | None:
    """(offset, seq) of the record right after `member`'s batch, found by its seq.

    `at` is the offset of the newline that ends `member`.
    """
    assert member.batch_end is not None
    wanted = member.batch_end + 1
    marker = b'\n{"seq":%d,' % wanted
    stop = min(size, at + (member.batch_end - member.seq + 2) * MAX_BYTES)
    window = _PROBE_BYTES
    while at < stop:
        data = os.pread(fd, min(window, stop - at), at)
        window = min(2 * window, 4 * MAX_BYTES)
        found = data.find(marker)
        if found >= 0:
            end = data.find(b"\n", found + 1)
            if end < 0:
                data += os.pread(fd, MAX_BYTES + 1, at + len(data))
                end = data.find(b"\n", found + 1)
            record = decode(data[found + 1 : end if end >= 0 else len(data)])
            if record is None or record.seq != wanted:
                return None
            if record.batch_start not in (None, wanted):
                return None
            return at + found + 1, wanted
        if at + len(data) >= stop:
            return None
        at += len(data) - len(marker)  # keep an overlap: the marker may straddle chunks
    return None
