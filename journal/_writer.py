"""The single write path: lock, validate the tail, assign seqs, write, fsync, release.

Every append (the journal's own notes included) runs under the store lock. On taking
the lock the writer checks that nobody else wrote since its last append (an fstat and a
stat); if somebody did, or on its first append, it re-reads the tail: the last good
record sets the next seq, a torn tail is left in place and adjudicated with a note, and
a meta.json hint ahead of the tail is honoured so a seq is never reused (unless it is
absurd: more than `MAX_SKIP` seqs ahead, when it is ignored and rewritten from the tail).

The writer reaches its files through descriptors of journal/ and journal/segments/ opened
without following a symlink (journal/_safe.py): a symlink planted under a segment's name,
or in place of a directory, is refused as damage before anything is written.

A failed write or fsync stops the writer for good: after a failed fsync the kernel may
have dropped the dirty pages, and a second fsync can "succeed" without the data ever
reaching the disk (tests/faults/test_fsync_eio.py). Reopen the journal to write again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from journal._errors import JournalClosed, JournalError, LockTimeout, SeqExhausted, WriterStopped
from journal._files import fsync_dir, write_all
from journal._lock import StoreLock
from journal._meta import FORMAT, read_meta, write_meta
from journal._parse import FRAGMENT_NOTE
from journal._reader import SEQ_NOTE
from journal._record import MAX_SEQ, Draft, Record, encode, utc_timestamp
from journal._safe import open_at, open_dir, unsafe
from journal._segments import Segment, is_segment_name, list_segments, segment_name
from journal._tail import Tail, first_record, last_seq, read_tail
from journal._validate import check_draft

Durability = Literal["always", "batch", "none"]
CREATED_NOTE = "journal.created"
# the most seqs a meta.json hint may reserve past the tail: records lost with a segment
# (a 64 MiB segment holds under 2**20 records); a hint further ahead is not believed
MAX_SKIP = 2**32


class StopOnFailure:
    """Stops its writer for good when an OSError leaves the block: a write or fsync failed.

    The one place an OSError of a write becomes `WriterStopped` (chained, its errno in
    the fields). The journal's own errors pass through untouched, though some are
    OSErrors too: a `LockTimeout` wrote nothing, and a `WriterStopped` is already the
    translation. A class rather than a generator-based context manager because the
    hot path of every append goes through it.
    """

    __slots__ = ("_writer",)

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, OSError) and not isinstance(exc, JournalError):
            raise self._writer._stop(exc) from exc


class Writer:
    """Appends records to one store; safe to share between threads of one process."""

    def __init__(
        self,
        root: Path,
        *,
        durability: Durability,
        lock_timeout: float,
        segment_bytes: int,
        batch_records: int,
    ) -> None:
        self.journal_dir = root / "journal"
        self.segments_dir = self.journal_dir / "segments"
        self.lock = StoreLock(root)
        self.durability = durability
        self.lock_timeout = lock_timeout
        self.segment_bytes = segment_bytes
        self.batch_records = batch_records
        self.stopped: BaseException | None = None
        self.closed = False
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._active: Segment | None = None
        self._size = 0
        self._next_seq = 0
        self._unsynced = 0
        self._wrote = False
        self._store_id: str | None = None
        self._root = root
        self._dirs: tuple[int, int] | None = None  # descriptors of journal/, journal/segments/
        self._guard = StopOnFailure(self)  # one, reused: it runs on every append

    def append(self, drafts: list[Draft]) -> list[Record]:
        """Append drafts as one atomic batch and return their records once durable."""
        payloads = [check_draft(draft) for draft in drafts]
        # the hot path of every durable append: what `_locked` does, without the two
        # generator-based context managers (a few microseconds on every append)
        with self._mutex:
            self._check_usable()
            with self._guard:  # a LockTimeout passes through: nothing was written
                self.lock.acquire(self.lock_timeout)
                try:
                    self._sync_tail()
                    return self._write(drafts, payloads)
                finally:
                    self.lock.release()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the store lock, with the tail checked, for a read-validate-append sequence.

        Only the writes inside stop the writer on failure: an error raised by the caller's
        own validation releases the lock and leaves the writer usable.
        """
        with self._mutex:
            self._check_usable()
            self.lock.acquire(self.lock_timeout)
            try:
                with self._guard:
                    self._sync_tail()
                yield Transaction(self)
            finally:
                self.lock.release()

    def create(self, store_id: str) -> None:
        """Write the store's first record, journal.created, unless the journal has records."""
        with self._locked():
            if self._next_seq == 1 and self._size == 0:
                self._store_id = store_id
                self._note(CREATED_NOTE, {"store_id": store_id, "format": FORMAT})
                self._write_meta()

    def store_id_from_journal(self) -> str | None:
        """The store id as written in the journal.created record (meta.json aside)."""
        segments, _ = list_segments(self.segments_dir)
        archived, _ = list_segments(self.journal_dir / "archive")
        oldest = (archived or segments)[:1]
        return _store_id(None, oldest[0]) if oldest else None

    def roll(self) -> Segment | None:
        """Start a new segment now (under the lock); None if the active one is empty."""
        with self._locked():
            if not self._can_roll():
                return None
            self._roll()
            return self._active

    def sync(self) -> None:
        """fsync what this writer wrote but has not yet made durable (durability=batch)."""
        with self._mutex, self._stopping_on_failure():
            if self._fd is not None and self._unsynced:
                self._fsync(self._fd)

    def close(self) -> None:
        """Make pending records durable, refresh meta.json if the lock is free, close files."""
        with self._mutex:
            try:
                if self._fd is not None and self.stopped is None:
                    with self._stopping_on_failure():
                        if self._unsynced and self.durability != "none":
                            self._fsync(self._fd)
                        if self._wrote:
                            self._refresh_meta()
            finally:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._close_dirs()
                self.lock.close()
                self.closed = True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the thread mutex and the store lock, with the tail checked, failing safe."""
        with self._mutex, self._stopping_on_failure():
            self.lock.acquire(self.lock_timeout)
            try:
                self._sync_tail()
                yield
            finally:
                self.lock.release()

    @contextmanager
    def _stopping_on_failure(self) -> Iterator[None]:
        """Refuse to work once stopped; stop for good on any failed write or fsync.

        After a failed fsync the kernel may have dropped the dirty pages, and a second
        fsync can "succeed" with the data gone (tests/faults/test_fsync_eio.py).
        """
        self._check_usable()
        with self._guard:
            yield

    def _check_usable(self) -> None:
        """Refuse to work once stopped or closed."""
        if self.stopped is not None:
            raise WriterStopped(
                f"this writer stopped after a failed write: {self.stopped}",
                hint="nothing after that failure was acknowledged; reopen the store",
            )
        if self.closed:
            raise JournalClosed("this journal is closed", hint="open the store again")

    def _stop(self, exc: OSError) -> WriterStopped:
        """Stop for good after a failed write or fsync; the error to raise in its place."""
        self.stopped = exc
        return WriterStopped(
            f"write to the journal failed, so this writer stopped: {exc}",
            hint="nothing from this call was acknowledged; fix the cause "
            "(disk full? I/O error?) and reopen the store",
            errno=exc.errno,
        )

    def _refresh_meta(self) -> None:
        """Leave meta.json current after a clean close, unless another writer is busy."""
        try:
            self.lock.acquire(0)
        except LockTimeout:
            return  # meta.json is only a cache; the busy writer refreshes it later
        try:
            self._sync_tail()
            self._write_meta()
        finally:
            self.lock.release()

    # -- under the lock ------------------------------------------------------------------

    def _sync_tail(self) -> None:
        if self._fd is not None and self._active is not None:
            # fast path: nobody appended to our segment and nobody started a new one
            if os.fstat(self._fd).st_size == self._size and (
                self._next_seq == self._active.first_seq
                or not self._taken(segment_name(self._next_seq))
            ):
                return
            os.close(self._fd)
            self._fd = None
        self._recover()

    def _taken(self, name: str) -> bool:
        """True if `name` exists in journal/segments/ (a symlink counts: it is not followed)."""
        assert self._dirs is not None
        return os.access(name, os.F_OK, dir_fd=self._dirs[1], follow_symlinks=False)

    def _open_dirs(self) -> tuple[int, int]:
        """Descriptors of journal/ and journal/segments/, each checked to be a real directory."""
        self._close_dirs()
        journal = open_dir(self._root, "journal")
        try:
            segments = open_dir(self._root, "journal/segments")
        except BaseException:
            os.close(journal)
            raise
        self._dirs = (journal, segments)
        return self._dirs

    def _close_dirs(self) -> None:
        dirs, self._dirs = self._dirs, None
        for fd in dirs or ():
            os.close(fd)

    def _recover(self) -> None:
        journal_fd, segments_fd = self._open_dirs()
        segments, strays = list_segments(self.segments_dir)
        for path in strays:
            if is_segment_name(path.name):  # a symlink or a special file under a segment's name
                raise unsafe(segments_fd, path.name, f"journal/segments/{path.name}")
        meta = read_meta(self.journal_dir, dir_fd=journal_fd)
        tail = self._open_active(segments, segments_fd, meta) if segments else None
        floor = 1
        if tail is not None:
            last = tail.last_seq if tail.last_seq is not None else last_seq(segments[:-1])
            floor = max(last + 1 if last is not None else 1, tail.segment.first_seq)
        hint = meta["next_seq"] if meta else 0
        absurd = not 1 <= hint <= floor + MAX_SKIP
        if absurd:
            hint = 0  # no journal handed out that many seqs: rebuilt from the tail instead
        region = tail.region if tail is not None else None
        self._next_seq = max(floor + (region.skip_count if region else 0), hint)
        if tail is not None and region is not None:
            self._adjudicate(tail, floor, hint)
        elif hint > floor:
            self._note(
                SEQ_NOTE,
                {
                    "reason": "meta.json next_seq was ahead of the journal's tail",
                    "meta_next_seq": hint,
                    "tail_next_seq": floor,
                    "skipped": [floor, hint - 1],
                },
            )
        if meta is not None and absurd:
            self._note(SEQ_NOTE, _ignored(meta["next_seq"], self._next_seq))
        if meta is None or absurd or hint > floor or region is not None:
            # a lagging hint is normal (meta.json is refreshed on roll and close, not per
            # append); a missing, unreadable or absurd one, or a repair, is written down now
            self._write_meta()

    def _open_active(
        self, segments: list[Segment], segments_fd: int, meta: dict[str, Any] | None
    ) -> Tail:
        """Open the newest segment for appending; its tail says where the journal ends."""
        self._active = segments[-1]
        tail = read_tail(self._active)
        self._fd = open_at(
            segments_fd,
            self._active.name,
            os.O_WRONLY | os.O_APPEND,
            shown=f"journal/segments/{self._active.name}",
        )
        self._size = tail.size
        self._store_id = _store_id(meta, segments[0]) or self.store_id_from_journal()
        return tail

    def _adjudicate(self, tail: Tail, floor: int, hint: int) -> None:
        region = tail.region
        assert region is not None
        payload: dict[str, Any] = {
            "segment": tail.segment.name,
            "start": region.start,
            "end": region.end,
            "bytes": region.end - region.start,
            "sha256": region.sha256,
            "verdict": region.verdict,
            "skipped": [floor, self._next_seq - 1] if self._next_seq > floor else None,
        }
        if hint > floor + region.skip_count:
            payload["meta_next_seq"] = hint
        self._note(FRAGMENT_NOTE, payload)

    def _note(self, kind: str, payload: dict[str, Any]) -> None:
        draft = Draft(kind, "journal", self._store_id or "store", payload)
        self._write([draft], [check_draft(draft, internal=True)], roll=False)

    def _write(
        self, drafts: list[Draft], payloads: list[bytes], *, roll: bool = True
    ) -> list[Record]:
        first = self._next_seq
        if first + len(drafts) - 1 > MAX_SEQ:
            raise SeqExhausted(
                f"seq {first + len(drafts) - 1} would pass the largest seq, {MAX_SEQ}",
                hint="the journal's seqs come from its segment names and meta.json: "
                "run 'lakehouse doctor' to find the segment or hint that jumped this far",
                next_seq=first,
                limit=MAX_SEQ,
            )
        data, records = encode(drafts, payloads, first_seq=first, ts=utc_timestamp())
        if self._fd is None or (roll and self._size >= self.segment_bytes and self._can_roll()):
            self._roll()
        assert self._fd is not None
        write_all(self._fd, data)
        self._size += len(data)
        self._next_seq = first + len(drafts)
        self._unsynced += len(drafts)
        self._wrote = True
        if self.durability == "always" or (
            self.durability == "batch" and self._unsynced >= self.batch_records
        ):
            self._fsync(self._fd)
        return records

    @property
    def next_seq(self) -> int:
        """The seq the next append gets (valid while the lock is held)."""
        return self._next_seq

    def _can_roll(self) -> bool:
        """False while the active segment holds no record: its name is the next seq's."""
        return self._active is None or self._active.first_seq != self._next_seq

    def _roll(self) -> None:
        if self._fd is not None:
            if self._unsynced and self.durability != "none":
                self._fsync(self._fd)  # a sealed segment is complete on disk
            os.close(self._fd)
            self._fd = None
        name = segment_name(self._next_seq)
        segments_fd = self._dirs[1] if self._dirs is not None else self._open_dirs()[1]
        try:
            # O_EXCL: whatever holds the name already, a symlink included, is not written to
            self._fd = open_at(
                segments_fd,
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                shown=f"journal/segments/{name}",
            )
        except FileExistsError:
            raise unsafe(segments_fd, name, f"journal/segments/{name}") from None
        self._active = Segment(self._next_seq, self.segments_dir / name)
        self._size = 0
        if self.durability != "none":
            # without this, a crash can lose the new segment's name with its records
            # (tests/faults/test_kill.py::test_roll_then_kill)
            fsync_dir(segments_fd)
        self._write_meta()

    def _fsync(self, fd: int) -> None:
        os.fsync(fd)
        self._unsynced = 0

    def _write_meta(self) -> None:
        segments, _ = list_segments(self.segments_dir)
        journal_fd = self._dirs[0] if self._dirs is not None else self._open_dirs()[0]
        write_meta(
            journal_fd,
            {
                "format": FORMAT,
                "store_id": self._store_id,
                "next_seq": self._next_seq,
                "segments": [segment.name for segment in segments],
                "written_by": self.lock.holder().get("writer"),
                "written_at": utc_timestamp(),
            },
            durable=self.durability != "none",
        )


def _ignored(hint: int, next_seq: int) -> dict[str, Any]:
    """The payload of the note that says an absurd meta.json hint was not trusted."""
    return {
        "reason": f"meta.json next_seq was absurd (more than {MAX_SKIP} seqs past the "
        "journal's tail, or not a seq): ignored, and rewritten from the segments",
        "meta_next_seq": hint,
        "tail_next_seq": next_seq,
    }


def _store_id(meta: dict[str, Any] | None, oldest: Segment) -> str | None:
    """The store id from meta.json, or else from the journal.created record that opens it."""
    if meta and isinstance(meta.get("store_id"), str):
        return str(meta["store_id"])
    record = first_record(oldest)
    if record is not None and record.kind == CREATED_NOTE:
        return str(record.payload.get("store_id"))
    return None


class Transaction:
    """Appends made while `Writer.transaction` holds the store lock."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    @property
    def head_seq(self) -> int:
        """The seq of the last record in the journal (0 for none): nobody else can append."""
        return self._writer.next_seq - 1

    def append_many(self, drafts: list[Draft]) -> list[Record]:
        """Append drafts as one atomic batch (one write, one fsync); return their records."""
        writer = self._writer
        payloads = [check_draft(draft) for draft in drafts]
        writer._check_usable()
        with writer._guard:
            return writer._write(drafts, payloads)
