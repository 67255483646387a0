"""Parse one segment's bytes into records and damaged regions.

Records are framed as ``\\n`` + JSON + ``\\n``, so a segment is split on the byte ``\\n``
(never ``str.splitlines``, which also splits on U+2028 and friends) and empty pieces
are framing. A piece that does not decode (bad JSON, bad CRC) starts a *region*: the
bytes from the end of the last good record up to the framing newline of the next good
record. A batch written by one `append_many` is atomic: its records carry the seq of
the batch's last record, and a batch that does not end is void and joins the region.

A region is either *torn* (what a single interrupted write leaves: void batch records
and at most one unterminated line) or *damaged* (anything else: a newline-terminated
line that is not a record can only come from corruption, e.g. a flipped bit). The
writer adjudicates the region at the tail with a ``journal.fragment_adjudicated`` note
that names its byte range; readers match the note to the region.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from journal._record import WARN_BYTES, Record, claimed_seq, decode

FRAGMENT_NOTE = "journal.fragment_adjudicated"
TORN = "torn"
DAMAGED = "damaged"


@dataclass
class Region:
    """Bytes [start, end) of a segment that hold no good record."""

    start: int
    end: int
    prev_seq: int | None
    verdict: str = TORN
    bad_lines: list[tuple[int, int | None, bool]] = field(default_factory=list)
    adjudicated_by: int | None = None

    @property
    def skip_count(self) -> int:
        """How many seqs a writer must skip after this region so no seq is ever reused."""
        return len(self.bad_lines) if self.verdict == DAMAGED else 0


@dataclass
class ParsedSegment:
    """The result of parsing one segment."""

    records: list[Record]
    regions: list[Region]
    tail: Region | None
    end_of_records: int
    oversize: list[tuple[int, int]] = field(default_factory=list)


def classify(chunk: bytes, start: int, prev_seq: int | None) -> Region:
    """Judge a region's bytes: torn (one interrupted write) or damaged (anything else)."""
    region = Region(start, start + len(chunk), prev_seq)
    pieces = chunk.split(b"\n")
    offset = start
    last = len(pieces) - 1
    for index, piece in enumerate(pieces):
        at = offset
        offset += len(piece) + 1
        if not piece:
            continue
        record = decode(piece)
        if index < last:
            if record is None or record.batch_end is None or record.batch_end <= record.seq:
                region.bad_lines.append((at, claimed_seq(piece), record is None))
        elif record is None and decode(piece[:-1]) is not None:
            # a whole record whose terminating newline was overwritten: corruption,
            # not an interrupted write (tests/journal/test_bitflip.py)
            region.bad_lines.append((at, claimed_seq(piece), True))
    if region.bad_lines:
        region.verdict = DAMAGED
    return region


def region_sha256(data: bytes, region: Region, base: int = 0) -> str:
    """The sha256 of a region's bytes, as recorded in its adjudication note."""
    return hashlib.sha256(data[region.start - base : region.end - base]).hexdigest()


def parse_segment(name: str, data: bytes, *, base: int = 0) -> ParsedSegment:
    """Parse `data`, the bytes of segment `name` from byte offset `base` on."""
    records: list[Record] = []
    closed: list[Region] = []
    oversize: list[tuple[int, int]] = []
    batch: list[Record] = []
    region_start: int | None = None
    last_end = base
    prev_seq: int | None = None
    pos = base
    for piece in data.split(b"\n"):
        start = pos
        pos += len(piece) + 1
        if not piece:
            continue
        record = _batch_checked(decode(piece), batch)
        if record is None or (batch and not _continues(batch, record)):
            # a bad line, or a new record while a batch is open: the open batch never
            # ended, so it is void and joins the region
            batch.clear()
            if region_start is None:
                region_start = last_end
            if record is None:
                continue
            record = _batch_checked(record, batch)
        if region_start is not None and not batch:
            closed.append(_close(data, base, region_start, start - 1, prev_seq))
            region_start = None
            last_end = start - 1
        if len(piece) > WARN_BYTES:
            oversize.append((record.seq, len(piece)))
        if record.batch_end is not None:
            batch.append(record)
            if record.seq != record.batch_end:
                continue
            records.extend(batch)
            batch.clear()
        else:
            records.append(record)
        last_end = start + len(piece)
        prev_seq = record.seq
        if record.kind == FRAGMENT_NOTE:
            _match_note(name, record, closed)
    tail = None
    if batch and region_start is None:
        region_start = last_end
    if region_start is not None:
        tail = _close(data, base, region_start, base + len(data), prev_seq)
    return ParsedSegment(records, closed, tail, last_end, oversize)


def _batch_checked(record: Record | None, batch: list[Record]) -> Record | None:
    """Drop a record whose batch_end is impossible; a one-record batch is a plain record."""
    if record is None or record.batch_end is None:
        return record
    if record.batch_end < record.seq:
        return None
    if record.batch_end == record.seq and not batch:
        return record._replace(batch_end=None)
    return record


def _continues(batch: list[Record], record: Record) -> bool:
    last = batch[-1]
    return record.batch_end == last.batch_end and record.seq == last.seq + 1


def _close(data: bytes, base: int, start: int, end: int, prev: int | None) -> Region:
    return classify(data[start - base : end - base], start, prev)


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
