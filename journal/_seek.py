"""Find where to start reading a segment for a cursor, without parsing what comes before.

A reader asked for the records after seq N needs only the part of the segment from the
record N + 1 on. Seqs grow along a segment, so a bisection over byte offsets narrows the
search to a small window in a few probes (each decodes one record after an offset, its
CRC checked, so a spoiled line is never trusted), and the record is then found in the
window by its exact opening bytes ``\\n{"seq":N+1,``. A batch member is no place to
start (a parser starting there would see an orphan), so for a record inside a batch the
start is its batch's first record, found the same way.

Skipping the bytes before the start skips no check that matters to the cursor: they hold
only records at or before N, which the reader would not hand out. When the record is not
there (a gap, damage, a cursor past the end), the start falls back to the nearest record
before it, or to the segment's first byte. `Journal.scan()` reads every segment whole.
"""

from __future__ import annotations

import os

from journal._record import MAX_BYTES, Record, decode

SEEK_MIN_BYTES = 128 * 1024  # below this, parsing from the start costs less than probing
_WINDOW = 64 * 1024
_PROBE = 4 * 1024  # a probe reads this much first: most records are far shorter
_Found = tuple[int, Record]  # a record and the offset of its first byte


def seek_start(fd: int, size: int, after: int) -> int:
    """A byte offset of a record with seq <= after + 1 (or 0): where to start parsing."""
    found, below = _locate(fd, size, after + 1)
    if found is None:
        if below is None:
            return 0
        found = below  # no record after + 1 here: start from the nearest one before it
    offset, record = found
    start = record.batch_start
    if start is None or start == record.seq:
        return offset
    first, _ = _locate(fd, offset, start)  # inside a batch: start at its first record
    return first[0] if first is not None else 0


def _locate(fd: int, size: int, seq: int) -> tuple[_Found | None, _Found | None]:
    """The record with `seq` in bytes [0, size), and the last one before it seen on the way."""
    lo, hi, below = 0, size, None
    while hi - lo > _WINDOW:
        mid = (lo + hi) // 2
        probe = _first_record(fd, mid, size)
        if probe is None or probe[1].seq > seq:
            hi = mid
        elif probe[1].seq == seq:
            return probe, below
        else:
            below = probe
            lo = probe[0] + 1
    return _find(fd, lo, min(size, hi), seq), below


def _first_record(fd: int, offset: int, size: int) -> _Found | None:
    """The first record that decodes after `offset` (a piece cut by it never does)."""
    at, window = offset, _PROBE
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
            if record is not None:
                return start, record
        if position > at:
            at, window = position, _PROBE
        elif window <= 2 * MAX_BYTES:
            window *= 2  # one record longer than the window
        else:
            at += len(data)  # a long run of garbage
    return None


def _find(fd: int, start: int, stop: int, seq: int) -> _Found | None:
    """The record with `seq` starting in bytes [start, stop), found by its opening bytes.

    Only the window and then the record's own line are read: a record may run up to
    MAX_BYTES past the window, but reading that far for every cursor would cost a
    megabyte a read (tests/journal/test_seek.py).
    """
    marker = b'\n{"seq":%d,' % seq
    begin = max(0, start - 1)  # the framing newline just before `start`
    data = os.pread(fd, stop + len(marker) - begin, begin)
    at = data.find(marker)
    if at < 0 and begin == 0 and data.startswith(marker[1:]):
        at = -1  # the segment's very first record, with no newline before it
    elif at < 0:
        return None
    offset = begin + at + 1
    line = _line_at(fd, offset)
    record = decode(line) if line is not None else None
    if record is None or record.seq != seq:
        return None
    return offset, record


def _line_at(fd: int, offset: int) -> bytes | None:
    """The bytes from `offset` to the next newline (None past MAX_BYTES without one)."""
    chunks: list[bytes] = []
    at, total = offset, 0
    while total <= MAX_BYTES:
        data = os.pread(fd, _WINDOW, at)
        end = data.find(b"\n")
        if end >= 0:
            chunks.append(data[:end])
            return b"".join(chunks)
        if not data:
            return b"".join(chunks)  # the last line of the segment, unterminated
        chunks.append(data)
        at += len(data)
        total += len(data)
    return None
