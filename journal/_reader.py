"""Lock-free readers: iterate records after a seq and report every kind of damage.

A reader never takes the lock and never blocks the writer. It lists the segments once
and reads each in turn, the first from a record near its cursor (journal/_seek.py), the
others whole; only the last segment of that listing may end in a torn tail,
which is skipped silently (a writer may be in the middle of that very write). Every
other malformed line, CRC mismatch, seq gap or out-of-order seq is a finding with its
segment and seq; a duplicate seq is an anomaly, reported and applied in file order.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Literal

from journal._errors import SegmentDamaged
from journal._finding import Finding, Severity
from journal._parse import DAMAGED, FRAGMENT_NOTE, Region, SegmentParser
from journal._record import Record
from journal._seek import SEEK_MIN_BYTES, seek_start
from journal._segments import Segment, list_segments

OnDamage = Literal["raise", "report"]
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC  # listed as a file; still never a symlink
SEQ_NOTE = "journal.seq_repaired"


class Reading:
    """Records with seq > `after`, in file order; `findings` fills in while iterating."""

    def __init__(
        self,
        segments_dir: Path,
        *,
        after: int,
        limit: int | None,
        on_damage: OnDamage,
        archive_dir: Path | None = None,
    ) -> None:
        self.segments, self.strays = _listing(segments_dir, archive_dir)
        self.archive_dir = archive_dir
        self.after = after
        self.limit = limit
        self.on_damage = on_damage
        self.findings: list[Finding] = []
        self.first_seq = self.segments[0].first_seq if self.segments else None
        self.gap = self.first_seq is not None and after + 1 < self.first_seq
        self.last_seq = after
        self.count = 0
        self.adjudicated = 0
        self.torn_tail: Region | None = None
        self._damaged_tail = False

    def __iter__(self) -> Iterator[Record]:
        starts = [segment.first_seq for segment in self.segments]
        index = max(0, bisect.bisect_right(starts, self.after + 1) - 1)
        prev: int | None = None
        for position in range(index, len(self.segments)):
            segment = self.segments[position]
            try:
                fd = _open_segment(segment, self.archive_dir)
            except FileNotFoundError:
                self._report(
                    "segment_vanished",
                    "warning",
                    f"{segment.name} disappeared while being read (archived?)",
                    segment.name,
                    hint="read again from the same seq",
                )
                continue
            try:
                start = 0
                if position == index and self.after >= segment.first_seq:
                    size = os.fstat(fd).st_size
                    if size >= SEEK_MIN_BYTES:
                        start = seek_start(fd, size, self.after)
                parser = SegmentParser(segment.name, fd, start=start)
                last = position == len(self.segments) - 1
                prev = yield from self._walk(segment, parser, prev, last, resumed=start > 0)
            finally:
                os.close(fd)
            if self.limit is not None and self.count >= self.limit:
                return

    def _walk(
        self,
        segment: Segment,
        parser: SegmentParser,
        prev: int | None,
        last: bool,
        *,
        resumed: bool,
    ) -> Generator[Record, None, int | None]:
        after = self.after
        room = -1 if self.limit is None else self.limit - self.count  # -1: no limit
        damaged, self._damaged_tail = self._damaged_tail, False  # damage just before us
        # the seq the next record must have; the first one is also checked against the
        # segment's name, so it never takes the fast path
        expect = -1
        count, last_seq = self.count, self.last_seq
        try:
            for item in parser:  # the hot loop of every read: keep it to a few operations
                if type(item) is Region:
                    damaged = self._region(segment, item) or damaged
                    continue
                record: Record = item  # type: ignore[assignment]
                seq = record[0]
                if seq != expect:
                    if expect == -1 and not resumed:
                        self._check_name(segment, seq, damaged)
                    if prev is not None and seq != prev + 1:
                        self._check_order(segment, record, prev, damaged)
                    if prev is None or seq > prev:
                        prev = seq
                    expect = prev + 1
                else:
                    prev, expect = seq, seq + 1
                damaged = False
                if seq > after:
                    if room == 0:
                        return prev
                    room -= 1
                    count += 1
                    last_seq = seq
                    yield record
        finally:
            self.count, self.last_seq = count, last_seq
        self._finish(segment, parser, last)
        return prev

    def _finish(self, segment: Segment, parser: SegmentParser, last: bool) -> None:
        """Report what only the end of a segment tells: oversize records, the tail."""
        for seq, size in parser.oversize:
            self._report(
                "oversize_record",
                "warning",
                f"seq {seq} is {size} bytes, above the 64 KiB soft limit",
                segment.name,
                seq,
                hint="keep large content under objects/ and reference it by hash",
            )
        if parser.tail is not None:
            if last and parser.tail.verdict != DAMAGED:
                self.torn_tail = parser.tail
            else:
                # reported here, it also explains the gap before the next segment
                self._damaged_tail = self._region(segment, parser.tail)

    def _region(self, segment: Segment, region: Region) -> bool:
        """Count a healthy adjudicated region or report a bad one; True if it was bad."""
        if region.adjudicated_by is not None and region.verdict != DAMAGED:
            self.adjudicated += 1
            return False
        for finding in _describe(segment, region):
            self._emit(finding)
        return True

    def _check_name(self, segment: Segment, seq: int, damaged: bool) -> None:
        if seq != segment.first_seq and not damaged:
            self._report(
                "segment_name_mismatch",
                "error",
                f"{segment.name} is named for seq {segment.first_seq} but its first record "
                f"has seq {seq}",
                segment.name,
                seq,
                hint="segments are never renamed; restore the original name",
            )

    def _check_order(self, segment: Segment, record: Record, prev: int, damaged: bool) -> None:
        seq = record.seq
        if seq == prev:
            self._report(
                "duplicate_seq",
                "warning",
                f"seq {seq} appears twice (second copy in {segment.name}); applied in file order",
                segment.name,
                seq,
                hint="two writers ignored the store lock: check for a network mount",
            )
        elif seq < prev:
            self._report(
                "seq_out_of_order",
                "error",
                f"seq {seq} follows seq {prev}",
                segment.name,
                seq,
                hint="the journal was edited or spliced by hand",
            )
        elif not damaged and not _explains_skip(record, prev):
            self._report(
                "seq_gap",
                "error",
                f"seqs {prev + 1}..{seq - 1} are missing before seq {seq}",
                segment.name,
                seq,
                hint="a segment or records were removed; restore them from a backup",
            )

    def _emit(self, finding: Finding) -> None:
        self.findings.append(finding)
        behind = finding.seq is not None and finding.seq <= self.after
        if finding.severity == "error" and self.on_damage == "raise" and not behind:
            raise SegmentDamaged(finding.message, hint=finding.hint, **_where(finding))

    def _report(
        self,
        code: str,
        severity: Severity,
        message: str,
        segment: str | None = None,
        seq: int | None = None,
        *,
        hint: str | None = None,
    ) -> None:
        self._emit(Finding(code, severity, message, segment=segment, seq=seq, hint=hint))


def _listing(segments_dir: Path, archive_dir: Path | None) -> tuple[list[Segment], list[Path]]:
    """The live segments, after the archived ones when `archive_dir` is given.

    The archive is listed before and after the live segments; if a segment was archived in
    between (it would be listed twice, or not at all), the listing is taken again.
    """
    if archive_dir is None:
        return list_segments(segments_dir)
    while True:
        before, _ = list_segments(archive_dir)
        live, strays = list_segments(segments_dir)
        after, _ = list_segments(archive_dir)
        if before == after:
            seen = {segment.first_seq for segment in live}
            return [s for s in before if s.first_seq not in seen] + live, strays


def _open_segment(segment: Segment, archive_dir: Path | None) -> int:
    """Open a segment; one archived since it was listed is found in the archive."""
    try:
        return os.open(segment.path, _READ)
    except FileNotFoundError:
        if archive_dir is None:
            raise
        return os.open(archive_dir / segment.name, _READ)


def _explains_skip(record: Record, prev: int) -> bool:
    """True if `record` is a journal note that declares the seqs between prev and it skipped."""
    if record.kind not in (SEQ_NOTE, FRAGMENT_NOTE):
        return False
    return record.payload.get("skipped") == [prev + 1, record.seq - 1]


def _where(finding: Finding) -> dict[str, Any]:
    return {"segment": finding.segment, "seq": finding.seq, "offset": finding.offset}


def _describe(segment: Segment, region: Region) -> list[Finding]:
    """The findings for one region that is not a healthy adjudicated fragment.

    A damaged line is reported under the seq it must have held (the one after the last
    good record), not the seq it claims: a flipped digit can make it claim any seq.
    """
    name = segment.name
    after = f"after seq {region.prev_seq}" if region.prev_seq is not None else "at its start"
    expected = (region.prev_seq or segment.first_seq - 1) + 1
    if region.adjudicated_by is not None:
        return [
            Finding(
                "damaged_fragment",
                "error",
                f"{name} bytes {region.start}..{region.end} {after} held damaged "
                f"records (adjudicated by seq {region.adjudicated_by})",
                segment=name,
                seq=expected,
                offset=region.start,
                hint="records there were lost to corruption; restore from a backup",
            )
        ]
    if not region.bad_lines:
        return [
            Finding(
                "unadjudicated_fragment",
                "error",
                f"{name} bytes {region.start}..{region.end} {after} hold an interrupted "
                "write that no writer adjudicated",
                segment=name,
                seq=expected,
                offset=region.start,
                hint="a torn write must only ever be at the end of the active segment",
            )
        ]
    out = []
    for offset, claimed, undecodable in region.bad_lines:
        what = "fails its CRC or does not parse" if undecodable else "is out of its batch"
        if claimed is not None and claimed != expected:
            what += f" (it claims seq {claimed})"
        out.append(
            Finding(
                "crc_mismatch" if claimed is not None else "malformed_line",
                "error",
                f"{name} offset {offset}: the record for seq {expected} {after} {what}",
                segment=name,
                seq=expected,
                offset=offset,
                hint="restore this segment from a backup; never edit it",
            )
        )
        expected += 1
    return out
