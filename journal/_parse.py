"""Stream one segment into records and damaged regions, in file order.

Records are framed as ``\\n`` + JSON + ``\\n``, so a segment is split on the byte ``\\n``
(never ``str.splitlines``, which also splits on U+2028 and friends) and empty pieces
are framing. A piece that does not decode (bad JSON, bad CRC) starts a *region*: the
bytes from the end of the last good record up to the framing newline of the next good
record. A batch written by one `append_many` is atomic: its records carry the first and
last seq of their batch, and a batch that does not end is void and joins the region.

A region is either *torn* (what interrupted writes leave: prefixes of records, void
batch records, zeros or garbage after them) or *damaged* (it holds a whole record that
was spoiled after it was written, e.g. by a flipped bit: that record may have been
acknowledged, so the writer skips its seq rather than reuse it). The
writer adjudicates the region at the tail with a ``journal.fragment_adjudicated`` note
that names its byte range; the parser matches the note to the region. Since the note
is written right after the region, the parser holds back a few records after a region
so that it hands the region out already judged, in its place in the stream.

The segment is read in chunks with ``pread`` so memory stays flat however large the
segment, and records are handed out one at a time (building them all first costs more
in allocation than the parsing itself).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from journal._record import WARN_BYTES, Record, claimed_seq, decode

FRAGMENT_NOTE = "journal.fragment_adjudicated"
TORN = "torn"
DAMAGED = "damaged"
CHUNK_BYTES = 1 << 20
_WARN_LINE = WARN_BYTES + 1  # a piece plus its newline
_SUFFIX = 18  # len(b',"crc":"1a2b3c4d"}')
_LOOKAHEAD = 4  # records to hold back after a region while waiting for its note


@dataclass
class Region:
    """Bytes [start, end) of a segment that hold no good record."""

    start: int
    end: int
    prev_seq: int | None
    verdict: str = TORN
    bad_lines: list[tuple[int, int | None, bool]] = field(default_factory=list)
    adjudicated_by: int | None = None
    sha256: str = ""

    @property
    def skip_count(self) -> int:
        """How many seqs a writer must skip after this region so no seq is ever reused."""
        return len(self.bad_lines) if self.verdict == DAMAGED else 0


def classify(chunk: bytes, start: int, prev_seq: int | None) -> Region:
    """Judge a region's bytes: torn (interrupted writes) or damaged (a whole record spoiled).

    An interrupted write leaves a prefix of a record, and the next write's framing
    newline may terminate it, so prefixes are torn wherever they stand. A piece that is
    a whole record spoiled after it was written (its checksum suffix is there, or one
    byte away from a good record) is damage: that record may have been acknowledged.
    """
    region = Region(start, start + len(chunk), prev_seq, sha256=hashlib.sha256(chunk).hexdigest())
    offset = start
    for piece in chunk.split(b"\n"):
        at = offset
        offset += len(piece) + 1
        if not piece:
            continue
        record = decode(piece)
        if record is None and _spoiled_whole(piece):
            region.bad_lines.append((at, claimed_seq(piece), True))
        elif record is not None and record.batch_end is None:
            region.bad_lines.append((at, record.seq, False))
    if region.bad_lines:
        region.verdict = DAMAGED
    return region


def _spoiled_whole(piece: bytes) -> bool:
    """True if `piece` is a whole record spoiled after the fact, not a torn prefix."""
    if piece[-_SUFFIX:-10] == b',"crc":"' and piece[-2:] == b'"}':
        return True  # the record ran to its end: the damage is inside it
    if decode(piece[:-1]) is not None:
        return True  # a whole record whose terminating newline was overwritten
    if not piece.startswith(b'{"seq":') or len(piece) < 2 * _SUFFIX:
        return False
    # one byte of the checksum suffix spoiled: a single-bit change must restore a record
    # (tests/journal/test_bitflip.py); a torn prefix can never pass this
    head, tail = piece[:-_SUFFIX], bytearray(piece[-_SUFFIX:])
    for index in range(_SUFFIX):
        for bit in range(8):
            tail[index] ^= 1 << bit
            if decode(head + tail) is not None:
                return True
            tail[index] ^= 1 << bit
    return False


class SegmentParser:
    """Iterate a segment's good records and judged regions; `tail` is set at the end."""

    def __init__(self, name: str, fd: int, *, start: int = 0, stop: int | None = None) -> None:
        self.name = name
        self.fd = fd
        self.start = start
        self.stop = os.fstat(fd).st_size if stop is None else stop
        self.tail: Region | None = None
        self.last_seq: int | None = None
        self.oversize: list[tuple[int, int]] = []

    def _chunks(self) -> Iterator[list[bytes]]:
        """Lists of whole pieces; the final list holds the unterminated remainder."""
        carry = b""
        at = self.start
        while at < self.stop:
            chunk = os.pread(self.fd, min(CHUNK_BYTES, self.stop - at), at)
            if not chunk:
                break
            at += len(chunk)
            pieces = (carry + chunk).split(b"\n") if carry else chunk.split(b"\n")
            carry = pieces.pop()
            yield pieces
        yield [carry]

    def __iter__(self) -> Iterator[Record | Region]:  # noqa: PLR0912, PLR0915 - the hot loop
        batch: list[Record] = []
        held: list[Record] = []
        unresolved: list[Region] = []
        region_start: int | None = None
        last_end = pos = self.start
        prev_seq: int | None = None
        smooth = True  # no region open, none waiting for its note
        want = 0  # the seq the open batch needs next
        _decode, _len = decode, len  # locals: this loop runs once per record
        for pieces in self._chunks():
            for piece in pieces:
                start = pos
                pos += _len(piece) + 1
                if not piece:
                    continue
                record = _decode(piece)
                if record is None:
                    smooth = False
                elif smooth:
                    # the common cases: a plain record, or the next record of a batch
                    if _len(record) == 10:
                        if not batch:
                            last_end, prev_seq = pos - 1, record[0]
                            if pos - start > _WARN_LINE:
                                self.oversize.append((prev_seq, pos - start - 1))
                            yield record
                            continue
                    elif (
                        record[0] == want and record[9] == batch[0][9]
                        if batch
                        else record[0] == record[9][0]
                    ):
                        batch.append(record)
                        want = record[0] + 1
                        if want > record[9][1]:
                            last_end, prev_seq = pos - 1, record[0]
                            yield from batch
                            batch = []
                        continue
                if pos - start > _WARN_LINE and record is not None:
                    self.oversize.append((record[0], pos - start - 1))
                if record is not None and len(record) == 11:
                    record = _member(record, batch)
                if record is None or (batch and not _continues(record)):
                    # a bad line, or a new record while a batch is open: the open batch
                    # never ended, so it is void and joins the region
                    batch = []
                    if region_start is None:
                        region_start = last_end
                    smooth = False
                    if record is None:
                        continue
                if region_start is not None and not batch:
                    unresolved.append(self._judge(region_start, start - 1, prev_seq))
                    region_start = None
                    last_end = start - 1
                if len(record) == 11:
                    batch.append(record)
                    want = record.seq + 1
                    if record.seq != record.batch_end:
                        continue
                    done, batch = batch, []
                else:
                    done = [record]
                last_end, prev_seq = pos - 1, record.seq
                if record.kind == FRAGMENT_NOTE:
                    _match_note(self.name, record, unresolved)
                held.extend(done)
                if len(held) >= _LOOKAHEAD or all(r.adjudicated_by for r in unresolved):
                    yield from unresolved
                    yield from held
                    unresolved.clear()
                    held.clear()
                    smooth = region_start is None
        yield from unresolved
        yield from held
        if batch and region_start is None:
            region_start = last_end
        if region_start is not None:
            self.tail = self._judge(region_start, self.stop, prev_seq)
        self.last_seq = prev_seq

    def _judge(self, start: int, end: int, prev_seq: int | None) -> Region:
        return classify(os.pread(self.fd, end - start, start), start, prev_seq)


def _member(record: Record, batch: list[Record]) -> Record | None:
    """A batch record that starts a batch or continues the open one; None for an orphan.

    An orphan is a later member of a batch whose start was lost: the batch is void.
    """
    if record.seq == record.batch_start:
        return record
    if batch and batch[-1].batch_start == record.batch_start and record.seq == batch[-1].seq + 1:
        return record
    return None


def _continues(record: Record) -> bool:
    """True for a batch record past its batch's first (`_member` checked the order)."""
    return record.batch_start is not None and record.seq != record.batch_start


def _match_note(name: str, note: Record, regions: list[Region]) -> None:
    payload = note.payload
    if payload.get("segment") != name:
        return
    for region in regions:
        if (
            region.adjudicated_by is None
            and region.start == payload.get("start")
            and region.end == payload.get("end")
        ):
            region.adjudicated_by = note.seq
            return
