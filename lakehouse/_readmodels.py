"""Bringing the projections up to date: which checkpoint each starts from, and the fold.

Reads are lazy: `open_read_models` picks, for each projection, the newest valid checkpoint
that holds it under its current fingerprint (a projection whose code changed starts from
genesis until it is rebuilt), folds the records after that checkpoint through the family
heads, and serves the result as DuckDB views (`projections.ReadModels`). Every
projection in one `ReadModels` reflects the same seq, pinned before the fold starts, so
an append racing the read is simply not seen yet.

A record that cannot be folded stops no reader. One its family cannot fold (about an
entity no record created, of a kind or version this code does not know, or just
malformed) goes, for each projection that reads its kind, to that projection's policy,
as does one a projection cannot apply: a dead letter, or a stop of that projection
alone, which a checkpoint then carries as it is (tests/lakehouse/test_unfoldable.py).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from checkpoints import Checkpoint, CheckpointStore, Verified
from journal import LakehouseError, Reading, Record
from lakehouse._errors import CommandError, InvalidInput
from lakehouse._family import Family
from lakehouse._heads import Heads
from lakehouse._snapshot import Snapshot
from lakehouse._stops import record_error
from projections import (
    Changes,
    Event,
    Layer,
    Part,
    Projection,
    ReadModels,
    ReadModelsTooLarge,
    literal,
    pin,
)

if TYPE_CHECKING:
    from lakehouse._kernel import Engine

META = "projections"  # the checkpoint meta key listing the projections a checkpoint holds
LAYERS = "layers"  # each projection's entry: its tables' layers (projections/_layers.py)
Progress = Callable[[int], None]
# given the checkpoints listed and the projections a read would fold from genesis: True if
# it wrote a checkpoint holding them (lakehouse._rebuild.persist_stale)
Stale = Callable[..., bool]
_BIGINT = 2**63  # a BIGINT holds -2**63 up to 2**63 - 1
_RACES = 5  # times to pick checkpoints again when one vanishes as it is opened


def table_file(name: str) -> str:
    """Where a table's Parquet lives inside a checkpoint."""
    return f"tables/{name}.parquet"


def holds(checkpoint: Checkpoint, projection: Projection) -> bool:
    """True if `checkpoint` holds `projection` under its current fingerprint (and heads)."""
    meta = checkpoint.meta
    entry = meta.get(META, {}).get(projection.name)
    return (
        "heads" in meta
        and isinstance(entry, dict)
        and entry.get("fingerprint") == (projection.fingerprint)
    )


def bases(
    checkpoints: Iterable[Checkpoint],
    projections: Iterable[Projection],
    *,
    at_most: int,
    verify: bool = False,
    cache: Verified | None = None,
) -> dict[int, tuple[Checkpoint | None, list[Projection]]]:
    """Group projections by the checkpoint each starts from (seq 0: from genesis).

    A checkpoint counts if its cheap check passes; with `verify`, only if every file
    hashes right (what a new checkpoint is built on, so damage is never carried forward):
    with `cache`, a file hashed right before and not written since is not hashed again
    (checkpoints/_verified.py), so a checkpoint sharing its files with the one before
    does not hash them all again.
    """
    valid = sorted((c for c in checkpoints if c.valid and c.seq <= at_most), key=lambda c: c.seq)
    if verify:
        valid = [c for c in valid if not any(f.severity == "error" for f in c.verify(cache=cache))]
    groups: dict[int, tuple[Checkpoint | None, list[Projection]]] = {}
    for projection in projections:
        base = next((c for c in reversed(valid) if holds(c, projection)), None)
        seq = base.seq if base else 0
        groups.setdefault(seq, (base, []))[1].append(projection)
    return groups


class Fold:
    """Projections folded from one checkpoint (or genesis): their parts and the heads.

    `advance(upto)` feeds the records after `seq` up to `upto`, so a follower keeps one
    fold and feeds it only what was appended since.
    """

    def __init__(
        self,
        store: Engine,
        base: Checkpoint | None,
        projections: list[Projection],
        *,
        families: list[Family[Any]] | None = None,
    ) -> None:
        self.store = store
        self.base = base
        self.seq = base.seq if base is not None else 0
        chosen = store.families if families is None else families
        self.heads = Heads(chosen, Snapshot(base) if base is not None else None)
        self.reading: Reading | None = None  # the last journal read, with its findings
        # how many records the fold took, and the sum of their seqs and of their squares
        self.tally = (0, 0, 0)
        # with `check_envelopes`: False once a record's ts, writer, kind, entity or id is not
        # a string or its rev or v not a BIGINT (read as written by a fold in bulk, where
        # DuckDB would make them text or NULL: lakehouse/_bulk.py)
        self.check_envelopes = False
        self.envelopes_ok = True
        self.parts: list[Part] = []
        try:
            for projection in projections:
                self.parts.append(_part(projection, Changes(projection), base))
        except BaseException:
            self.close()
            raise
        self._readers: dict[str, list[Changes]] = {}

    def advance(self, upto: int, progress: Progress | None = None) -> int:
        """Feed the records after `seq` up to `upto` (in seq order); how many there were."""
        changes = [part.changes for part in self.parts]
        readers, take, count = self._readers, self.heads.take, 0
        # a fold allocates millions of small objects that live on, which sets off the cyclic
        # collector's full passes again and again for nothing: they cost more than the fold
        # (tools/bench/projection_bench.py). So it is off during the fold, and what the fold
        # made is frozen (left out of later passes; refcounting still frees it), or the first
        # pass after the fold scans it all: 50 ms of a 250 ms read-model open
        collecting = gc.isenabled()
        gc.disable()
        try:
            count = self._feed(changes, readers, take, upto, progress)
        finally:
            if collecting:
                gc.freeze()
                gc.enable()
        self.seq = max(self.seq, upto)
        for change in changes:
            if change.stopped is None:
                change.watermark = self.seq
        return count

    def _feed(
        self,
        changes: list[Changes],
        readers: dict[str, list[Changes]],
        take: Callable[[Record], tuple[dict[str, Any], Any] | None],
        upto: int,
        progress: Progress | None,
    ) -> int:
        count = total = squares = 0
        if self.seq < upto:
            self.reading = reading = self.store.journal.read(after=self.seq, archived=True)
            for record in reading:
                seq = record.seq
                if seq > upto:
                    break
                total += seq
                squares += seq * seq
                if self.check_envelopes and not _envelope_ok(record):
                    self.envelopes_ok = False
                targets = readers.get(record.kind)
                if targets is None:
                    targets = readers[record.kind] = [
                        c for c in changes if c.projection.reads(record)
                    ]
                try:
                    taken = take(record)
                except Exception as error:
                    if not at_fault(error):
                        raise
                    _unfoldable(record, error, targets)
                    count += 1
                    continue
                event = (
                    Event(record, record.payload, None) if taken is None else Event(record, *taken)
                )
                for target in targets:
                    target.feed(event)
                count += 1
                if progress is not None and not seq % 8192:
                    progress(seq)
        counted, summed, squared = self.tally
        self.tally = (counted + count, summed + total, squared + squares)
        return count

    def drop_heads(self) -> None:
        """Let go of the heads (a rebuild that wrote them into its checkpoint needs only its
        tables after: the indexes are built from those)."""
        if self.heads.snapshot is not None:
            self.heads.snapshot.close()
        self.heads = Heads(self.heads.families.values())

    def close(self) -> None:
        """Close the files the fold pinned (its parts' and its heads snapshot's)."""
        for part in self.parts:
            part.close()
        if self.heads.snapshot is not None:
            self.heads.snapshot.close()


def _envelope_ok(record: Record) -> bool:
    """The record's envelope has the types the journal's writer gives it."""
    ts, writer, kind, entity, id, rev, v = record[1:8]
    return (
        ts.__class__
        is writer.__class__
        is kind.__class__
        is entity.__class__
        is id.__class__
        is str
        and rev.__class__ is v.__class__ is int
        and -_BIGINT <= rev < _BIGINT
        and -_BIGINT <= v < _BIGINT
    )


def at_fault(error: Exception) -> bool:
    """True if a family's fold failed on the record itself, not on reading a checkpoint."""
    if isinstance(error, CommandError):  # unknown entity, kind or schema version
        return True
    return not isinstance(error, OSError | LakehouseError | orjson.JSONDecodeError)


def _unfoldable(record: Record, error: Exception, targets: list[Changes]) -> None:
    """A record its family cannot fold: each projection's policy has it, unless the
    projection reads only the record (the raw journal), which takes it as it is."""
    for target in targets:
        if target.projection.uses_heads:
            target.refuse(record, error)
        else:
            target.feed(Event(record, record.payload, None))


def fold(
    store: Engine,
    base: Checkpoint | None,
    projections: list[Projection],
    *,
    upto: int,
    progress: Progress | None = None,
) -> Fold:
    """Feed the records after `base` up to seq `upto` to `projections`, through the heads."""
    done = Fold(store, base, projections)
    try:
        done.advance(upto, progress)
    except BaseException:
        done.close()
        raise
    return done


def layer_files(entry: Mapping[str, Any], table: str) -> list[tuple[str, int, str | None]]:
    """A table's layers in a checkpoint's meta entry: (rows file, rows, keys file or None),
    oldest first. A checkpoint written before layers holds each table as one file."""
    listed = entry.get(LAYERS, {}).get(table)
    if not listed:
        digest = str(entry.get("digests", {}).get(table, "-1:"))
        return [(table_file(table), int(digest.partition(":")[0]), None)]
    return [
        (str(rows), int(count), None if keys is None else str(keys)) for rows, count, keys in listed
    ]


def _part(projection: Projection, changes: Changes, base: Checkpoint | None) -> Part:
    """The projection's part; its checkpoint files are pinned open (see `projections.pin`)."""
    if base is None:
        return Part(projection, changes)
    entry = base.meta.get(META, {}).get(projection.name, {})
    if isinstance(entry, dict) and isinstance(entry.get("stopped"), dict):
        changes.stop_as(entry["stopped"])  # stopped where the checkpoint says: no tables
        return Part(projection, changes, base_meta=entry)
    layers = {table.name: layer_files(entry, table.name) for table in projection.tables}
    files = {
        relpath: base.path_of(relpath)
        for listed in layers.values()
        for rows, _, keys in listed
        for relpath in (rows, keys)
        if relpath is not None
    }
    prefix = f"index/{projection.name}."
    extra = {name: base.path_of(name) for name in base.files if name.startswith(prefix)}
    fds: list[int] = []
    try:
        pinned, pinned_extra = pin(files, fds), pin(extra, fds)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise

    def read(relpath: str | None) -> str | None:
        return None if relpath is None else f"read_parquet({literal(str(pinned[relpath]))})"

    return Part(
        projection,
        changes,
        base_files={name: pinned[listed[0][0]] for name, listed in layers.items()},
        base_layers={
            name: [Layer(str(read(rows)), read(keys), count) for rows, count, keys in listed[1:]]
            for name, listed in layers.items()
        },
        base_seq=base.seq,
        base_dir=base.path,
        base_meta=entry,
        extra_files=pinned_extra,
        table_files=pinned,
        fds=fds,
    )


def dead_letters(part: Part) -> list[dict[str, Any]]:
    """The dead letters of a part: its checkpoint's, then the tail's."""
    old = list(part.base_meta.get("dead_letters", []))
    return old + [letter.to_dict() for letter in part.changes.dead_letters]


def target_seq(store: Engine, as_of: int | None) -> int:
    """The seq to read up to: `as_of`, checked against the head, or the head."""
    head = store.journal.head_seq or 0
    if as_of is None:
        return head
    if as_of < 0 or as_of > head:
        raise InvalidInput(
            f"--as-of-seq {as_of} is outside the journal, whose head is seq {head}",
            hint=f"pass a seq from 0 to {head}",
            field="as_of_seq",
            head_seq=head,
        )
    return as_of


def open_read_models(
    store: Engine,
    *,
    as_of: int | None = None,
    locked: bool = True,
    projections: list[Projection] | None = None,
    progress: Progress | None = None,
    verify: bool = False,
    stale: Stale | None = None,
    **limits: Any,
) -> tuple[ReadModels, list[Fold]]:
    """The read models at the head (or at `as_of`), merged from checkpoints and the tail.

    `locked` gives a DuckDB connection fit for user SQL (no file access outside the store's
    checkpoints and objects, configuration locked); unlocked is for writing checkpoints.
    `limits` go to the connection (see `connect_models`).
    """
    upto = target_seq(store, as_of)
    chosen = projections if projections is not None else store.projections()
    for attempt in range(_RACES):
        try:
            folds = fold_all(
                store, chosen, upto=upto, progress=progress, verify=verify, stale=stale
            )
            break
        except FileNotFoundError:
            if attempt == _RACES - 1:
                raise  # checkpoints keep vanishing under us: say so rather than loop
    try:
        models = build_models(store.root, folds, upto, locked=locked, **limits)
    except BaseException:
        _close(folds)
        raise
    return models, folds


def fold_all(
    store: Engine,
    projections: list[Projection],
    *,
    upto: int,
    progress: Progress | None = None,
    verify: bool = False,
    stale: Stale | None = None,
) -> list[Fold]:
    """Fold every projection from its checkpoint up to `upto`, one fold per checkpoint.

    `stale(listed, projections, upto=)` is given the projections that would be folded
    from genesis though there are checkpoints; if it writes one that holds them (True),
    the checkpoints are picked again.

    FileNotFoundError means a checkpoint was pruned or replaced between being listed and
    being opened; nothing is pinned then, and the caller picks checkpoints again.
    """
    folds: list[Fold] = []
    cache = store.checkpoints.verified() if verify else None
    try:
        listed = store.checkpoints.list()
        groups = bases(listed, projections, at_most=upto, verify=verify, cache=cache)
        genesis = groups.get(0)
        if stale is not None and genesis is not None and stale(listed, genesis[1], upto=upto):
            listed = store.checkpoints.list()
            groups = bases(listed, projections, at_most=upto, verify=verify, cache=cache)
        if cache is not None:
            cache.save()
        for base, group in groups.values():
            folds.append(fold(store, base, group, upto=upto, progress=progress))
    except BaseException:
        _close(folds)
        raise
    for done in folds:
        for part in done.parts:
            if part.changes.stopped is not None:
                record_error(store.root, part.changes.stopped)
    return folds


def _close(folds: list[Fold]) -> None:
    for done in folds:
        done.close()


def build_models(
    root: Path, folds: list[Fold], seq: int, *, locked: bool, owns_parts: bool = True, **limits: Any
) -> ReadModels:
    """The read models of `folds` at `seq` on a connection of their own (see connect_models).

    The tails are loaded before the connection is locked, so its memory limit is what
    queries may use beyond them. A tail too big for memory even so (far too many records
    since the latest checkpoint) raises ReadModelsTooLarge, which says how to shorten it.
    """
    import duckdb

    parts = [part for done in folds for part in done.parts]
    built: list[ReadModels] = []

    def load(con: Any) -> None:
        built.append(ReadModels(con, parts, seq, owns_parts=owns_parts))

    try:
        connect_models(root, locked=locked, load=load, **limits)
    except duckdb.OutOfMemoryException as error:
        # the connection is closed already (connect_models closes it on any failure)
        behind = max(seq - (done.base.seq if done.base else 0) for done in folds)
        raise ReadModelsTooLarge(
            f"the read models at seq {seq} do not fit in memory: {behind:,} records after "
            "the checkpoint they start from",
            hint="write a checkpoint at the head with 'lakehouse checkpoint create' (or "
            "'lakehouse projections rebuild' if a projection changed), then read again",
            seq=seq,
            records=behind,
        ) from error
    return built[0]


def connect_models(
    root: Path, *, locked: bool, load: Callable[[Any], None] | None = None, **limits: Any
) -> Any:
    """An in-memory DuckDB for read models: locked down for user SQL, or not.

    `limits` go to `projections.connect` (memory_limit, threads, max_execution_time);
    `load(con)` runs on it before it is locked (see `projections.connect`).
    """
    if locked:
        from projections import connect, pinned_directory

        allowed = [CheckpointStore(root).directory, root / "objects", pinned_directory()]
        directories = [path for path in allowed if path is not None]
        return connect(allowed_directories=directories, search_path=root, load=load, **limits)
    import duckdb

    # the catalog's views name dataset files relative to the root (see CatalogProjection)
    config: dict[str, Any] = {
        "threads": os.cpu_count() or 1,
        "file_search_path": str(root.absolute()),
    }
    con = duckdb.connect(":memory:", config=config)
    if load is not None:
        try:
            load(con)
        except BaseException:
            con.close()
            raise
    return con
