"""`Journal`: the public face of the storage engine."""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from journal._errors import StoreNotFound
from journal._files import fsync_dir
from journal._finding import Finding
from journal._meta import FORMAT, MetaCheck, check_meta, read_meta
from journal._reader import OnDamage, Reading
from journal._record import Draft, Record, as_draft
from journal._safe import UnsafeFile, check_dir, open_dir, unsafe_entries
from journal._segments import Segment, list_segments
from journal._tail import last_seq
from journal._writer import MAX_SKIP, Durability, Transaction, Writer

DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


@dataclass
class ScanReport:
    """The result of a full scan: counts, the head seq, and every finding."""

    head_seq: int | None
    records: int
    segments: int
    bytes: int
    adjudicated: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when nothing worse than a warning was found."""
        return not any(finding.severity == "error" for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready object."""
        return {
            "healthy": self.healthy,
            "head_seq": self.head_seq,
            "records": self.records,
            "segments": self.segments,
            "bytes": self.bytes,
            "adjudicated_fragments": self.adjudicated,
            "findings": [finding.to_dict() for finding in self.findings],
        }


class Journal:
    """An append-only, checksummed, crash-safe journal of records in one store directory.

    durability="always" (the default) fsyncs before every append returns. "batch" fsyncs
    every `batch_records` records, on `sync()`, on a roll and on `close()`: a record it
    returned survives a process kill (it is in the page cache) but not a power cut until
    then. "none" never fsyncs: for tests and throw-away imports.
    """

    def __init__(
        self,
        root: Path,
        *,
        durability: Durability = "always",
        lock_timeout: float = 10.0,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        batch_records: int = 1000,
    ) -> None:
        self.root = root
        self.journal_dir = root / "journal"
        self.segments_dir = self.journal_dir / "segments"
        self.archive_dir = self.journal_dir / "archive"
        if not Journal.exists(root):
            raise StoreNotFound(
                f"no store at {root}",
                hint="create one with 'lakehouse init' or pass --store PATH",
                store=str(root),
            )
        if durability not in ("always", "batch", "none"):
            raise ValueError(f"durability must be always, batch or none, not {durability!r}")
        self._writer = Writer(
            root,
            durability=durability,
            lock_timeout=lock_timeout,
            segment_bytes=segment_bytes,
            batch_records=batch_records,
        )

    @staticmethod
    def exists(root: str | os.PathLike[str]) -> bool:
        """True if `root` holds a store (its journal's directories exist)."""
        return (Path(root) / "journal" / "segments").is_dir()

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, create: bool = False, **options: Any) -> Journal:
        """Open the journal of the store at `root`; with create=True, initialise it if needed."""
        path = Path(root)
        if create:
            path.mkdir(parents=True, exist_ok=True)  # the root is the user's to choose
            for directory in ("journal/segments", "journal/archive"):
                check_dir(path, directory, create=True)
        journal = cls(path, **options)
        if create and journal.head_seq is None:
            journal._create()
        return journal

    def _create(self) -> None:
        self._writer.create(str(uuid.uuid4()))

    # -- writing -----------------------------------------------------------------------

    def append(
        self, *, kind: str, entity: str, id: str, payload: dict[str, Any], rev: int = 0, v: int = 1
    ) -> Record:
        """Append one record; return it once it is durable (per the durability mode).

        The returned record holds the very payload object passed in: do not mutate it.
        """
        return self._writer.append([Draft(kind, entity, id, payload, rev, v)])[0]

    def append_many(self, records: Iterable[Draft | Mapping[str, Any]]) -> list[Record]:
        """Append records as one atomic batch with a single write and a single fsync."""
        drafts = [as_draft(item) for item in records]
        return self._writer.append(drafts) if drafts else []

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the store lock for a read-validate-append sequence; nobody else appends.

        ``with journal.transaction() as tx:`` read what you need up to ``tx.head_seq``
        (readers take no lock), decide, then ``tx.append_many(drafts)``. A refusal raised
        inside appends nothing and releases the lock.
        """
        with self._writer.transaction() as tx:
            yield tx

    def roll(self) -> Segment | None:
        """Seal the active segment and start a new one; None if the active one is empty."""
        return self._writer.roll()

    def sync(self) -> None:
        """Make every record this journal appended durable (for durability='batch')."""
        self._writer.sync()

    @property
    def stopped(self) -> BaseException | None:
        """The failure that stopped this journal's writer, or None."""
        return self._writer.stopped

    # -- reading -----------------------------------------------------------------------

    def read(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        on_damage: OnDamage = "raise",
        archived: bool = False,
    ) -> Reading:
        """Records with seq > `after`; takes no lock. `gap` is set if `after` is archived.

        With `archived`, segments parked in journal/archive/ are read too, so a fold from
        genesis sees the whole history however much of it has been archived.
        """
        return Reading(
            self.segments_dir,
            after=after,
            limit=limit,
            on_damage=on_damage,
            archive_dir=self.archive_dir if archived else None,
        )

    def archive(self, *, upto: int) -> list[Segment]:
        """Move each sealed segment whose records all have seq <= `upto` to journal/archive/.

        Nothing is deleted: an archived segment keeps its name and bytes, and
        `read(archived=True)` still reads it. The active segment is never moved. Runs under
        the store lock so no roll races the listing.
        """
        moved: list[Segment] = []
        with self._writer.transaction():
            live = self.segments()[0]
            sealed = [s for s, nxt in itertools.pairwise(live) if nxt.first_seq - 1 <= upto]
            if sealed:
                self._move(sealed, moved)
            if moved:
                # fsync both directories, or a crash can leave the segment under neither
                # name or both (tests/journal/test_archive.py)
                fsync_dir(self.archive_dir)
                fsync_dir(self.segments_dir)
        return moved

    def _move(self, sealed: list[Segment], moved: list[Segment]) -> None:
        """Rename each segment into journal/archive/, both directories reached by descriptor."""
        source = open_dir(self.root, "journal/segments")
        try:
            target = open_dir(self.root, "journal/archive", create=True)
            try:
                for segment in sealed:
                    os.rename(segment.name, segment.name, src_dir_fd=source, dst_dir_fd=target)
                    moved.append(Segment(segment.first_seq, self.archive_dir / segment.name))
            finally:
                os.close(target)
        finally:
            os.close(source)

    @property
    def head_seq(self) -> int | None:
        """The seq of the last good record on disk, or None for an empty journal.

        Archived segments count: after a roll, the live segments may hold no record yet.
        """
        found = last_seq(self.segments()[0])
        if found is None:
            found = last_seq(list_segments(self.archive_dir)[0])
        return found

    def segments(self) -> tuple[list[Segment], list[Path]]:
        """The segments present (oldest first) and any stray files beside them."""
        return list_segments(self.segments_dir)

    def archived(self) -> tuple[list[Segment], list[Path]]:
        """The archived segments (oldest first) and any stray files beside them."""
        return list_segments(self.archive_dir)

    def sealed(self) -> list[tuple[Segment, int]]:
        """Each sealed segment (archived ones too), oldest first, with the last seq it can
        hold: the next segment's first seq - 1. Every segment is sealed but the newest live
        one, the active segment, which the writer appends to (and which holds seqs from its
        first on); a sealed segment never changes again."""
        live = self.segments()[0]
        every = sorted({s.name: s for s in [*self.archived()[0], *live]}.values())
        return [(segment, nxt.first_seq - 1) for segment, nxt in itertools.pairwise(every)]

    def sealed_upto(self) -> int:
        """The last seq the sealed segments can hold (0 if there is only the active one):
        every record up to it is in a segment that never changes again. One listing of
        journal/segments/, cheap enough for every command."""
        live = self.segments()[0]
        return live[-1].first_seq - 1 if live else 0

    def meta_temps(self) -> list[Path]:
        """Temp files of meta.json writes that a killed writer left (never read)."""
        return sorted(self.journal_dir.glob("meta.json.tmp-*"))

    def check_meta(self, *, head: int) -> MetaCheck:
        """How meta.json (a cache) stands against this journal ending at seq `head`."""
        return check_meta(
            self.journal_dir,
            head=head,
            live=[segment.name for segment in self.segments()[0]],
            created=self._created_store_id,
            max_skip=MAX_SKIP,
        )

    def _created_store_id(self) -> str | None:
        """The store id the journal.created record (the first record) names."""
        for record in self.read(after=0, limit=1, on_damage="report", archived=True):
            if record.kind == "journal.created":
                return str(record.payload.get("store_id"))
        return None

    @property
    def store_id(self) -> str | None:
        """The store's id, from meta.json or the journal.created record."""
        meta = read_meta(self.journal_dir)
        if meta and isinstance(meta.get("store_id"), str):
            return str(meta["store_id"])
        return self._writer.store_id_from_journal()

    def stats(self) -> dict[str, Any]:
        """A quick summary: head seq, segments, bytes, lock holder. Reads no full segment."""
        segments, strays = self.segments()
        sizes = [segment.path.stat().st_size for segment in segments]
        meta = read_meta(self.journal_dir)
        try:
            busy = self._writer.lock.is_held_elsewhere()
        except UnsafeFile:
            busy = False  # LOCK is not a plain file: `scan` reports it; nothing holds it
        return {
            "store": str(self.root),
            "store_id": self.store_id,
            "format": FORMAT,
            "head_seq": self.head_seq,
            "oldest_seq": segments[0].first_seq if segments else None,
            "segments": len(segments),
            "active_segment": segments[-1].name if segments else None,
            "bytes": sum(sizes),
            "archived_segments": len(list_segments(self.archive_dir)[0]),
            "stray_files": [path.name for path in strays],
            "meta_next_seq": meta["next_seq"] if meta else None,
            "lock_holder": self._writer.lock.holder() if busy else None,
            "durability": self._writer.durability,
        }

    def scan(self, *, archived: bool = False) -> ScanReport:
        """Read every record, check every CRC and seq, and report all findings.

        With `archived`, the segments in journal/archive/ are checked too, oldest first.
        """
        segments, strays = self.segments()
        if archived:
            segments = list_segments(self.archive_dir)[0] + segments
        start = segments[0].first_seq - 1 if segments else 0
        reading = self.read(after=start, on_damage="report", archived=archived)
        for _ in reading:
            pass
        findings = list(reading.findings)
        for path in self.meta_temps():
            findings.append(
                Finding(
                    "stray_temp_file",
                    "warning",
                    f"journal/{path.name} is a meta.json write that a killed writer left",
                    hint="it is safe to delete; meta.json itself is intact or rebuilt",
                )
            )
        findings += self._unsafe()
        unsafe = {finding.path for finding in findings if finding.code == "unsafe_file"}
        for path in strays:
            if f"journal/segments/{path.name}" in unsafe:
                continue
            findings.append(
                Finding(
                    "stray_file",
                    "warning",
                    f"{path.name} is not a segment",
                    hint="move it out of journal/segments/",
                )
            )
        if reading.torn_tail is not None:
            tail = reading.torn_tail
            findings.append(
                Finding(
                    "torn_tail",
                    "info",
                    f"the active segment ends in {tail.end - tail.start} bytes "
                    "of an unfinished write; the next writer adjudicates them",
                    segment=segments[-1].name,
                    seq=tail.prev_seq,
                    offset=tail.start,
                )
            )
        return ScanReport(
            head_seq=reading.last_seq if reading.count else None,
            records=reading.count,
            segments=len(segments),
            bytes=sum(segment.path.stat().st_size for segment in segments),
            adjudicated=reading.adjudicated,
            findings=findings,
        )

    def _unsafe(self) -> list[Finding]:
        """A finding for each symlink or special file among the journal's files.

        LOCK and the active segment are written in place, so a second hard link to either
        is one too: the writer refuses it.
        """
        found = unsafe_entries(self.root, "LOCK") + unsafe_entries(self.root, "journal")
        segments = self.segments()[0]
        for relpath in ["LOCK", *(f"journal/segments/{s.name}" for s in segments[-1:])]:
            with contextlib.suppress(OSError):
                info = os.lstat(self.root / relpath)
                if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                    found.append((relpath, f"a file with {info.st_nlink} hard links"))
        return [
            Finding(
                "unsafe_file",
                "error",
                f"{path} is {what}: the store holds only plain files and directories, and "
                "the writer refuses to write through it",
                hint=f"move {path} out of the store (or restore the real file from a backup)",
                path=path,
            )
            for path, what in found
        ]

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Make pending records durable and release files; the journal is unusable after."""
        self._writer.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
