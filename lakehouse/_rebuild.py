"""Persisting projections: checkpoints of every read model, rebuild jobs and their status.

A checkpoint holds the family heads, each table as Parquet, each projection's extra files
(HNSW indexes, catalog.json) and, in its meta, each projection's fingerprint, digest and
dead letters. A rebuild folds the stale projections from genesis and writes the result
as a new checkpoint: the checkpoint's temp dir is the shadow location and its rename the
atomic swap, so readers go on with the old checkpoint until the new one is whole. A
rebuild leaves resume points (small checkpoints of the stale projections) under
projections/cache/rebuild/ as it goes, so a killed rebuild carries on where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checkpoints import Checkpoint, CheckpointStore
from journal import LakehouseError, check_dir, file_sha256, remove_tree
from lakehouse._bulk import BulkFold, bulk_fold
from lakehouse._layering import table_layers
from lakehouse._readmodels import (
    LAYERS,
    META,
    Fold,
    Progress,
    bases,
    connect_models,
    dead_letters,
    fold,
    open_read_models,
)
from lakehouse._search import SearchProjection
from lakehouse._snapshot import snapshot_files
from lakehouse.catalog import install_manifest
from projections import Part, Projection, ReadModels

if TYPE_CHECKING:
    from lakehouse._kernel import Engine

log = logging.getLogger(__name__)
RESUME_EVERY = 250_000  # records between a rebuild's resume points
# records a read at the head would fold from genesis, for a projection whose fingerprint
# changed, from which it rebuilds that projection into a checkpoint first (`persist_stale`)
PERSIST_FROM = 10_000
LEFTOVER = "projections/cache/rebuild"  # where a rebuild keeps its resume points
INDEXES = "index/"  # a checkpoint's vector indexes, under their projection's name


def checkpoint_content(
    models: ReadModels,
    folds: list[Fold],
    families: list[str],
    *,
    extras: bool = True,
    indexes: bool = True,
    layers: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The files and meta of a checkpoint of `models` (heads from the first fold).

    Without `extras`, the projections' own files (indexes, manifests) are left out: a
    rebuild's resume points need only the tables and the heads. Without `indexes`, only
    the vector indexes are (`index/...`): a rebuild publishes its tables first. With
    `layers`, a table that starts from a checkpoint shares that checkpoint's files and
    adds a layer for its tail (lakehouse/_layering.py); else every table is written
    whole, which a rebuild does, so one journal always rebuilds to the same files.
    """
    heads = folds[0].heads
    heads_files, heads_meta = snapshot_files(
        heads.snapshot, heads.changed(), seq=models.seq if layers else None
    )
    files: dict[str, Any] = dict(heads_files)
    entries: dict[str, Any] = {}
    base_of = {part.projection.name: done.base for done in folds for part in done.parts}
    for part in models.parts.values():
        projection = part.projection
        entry: dict[str, Any] = {
            "fingerprint": projection.fingerprint,
            "version": projection.version,
            "dead_letters": dead_letters(part),
        }
        stop = part.changes.stop_record()
        if stop is not None:
            # no tables: a stopped projection holds nothing at this seq. Readers starting
            # from here take over the stop, until its code changes and it is rebuilt
            entries[projection.name] = {**entry, "tables": [], "digests": {}, "stopped": stop}
            continue
        table_layers_of: dict[str, Any] = {}
        digests: dict[str, str] = {}
        for table in projection.tables:
            own, listed, digests[table.name] = table_layers(
                models, part, base_of.get(projection.name) if layers else None, table
            )
            files.update(own)
            table_layers_of[table.name] = [list(layer) for layer in listed]
        if extras:
            own = projection.files(models)
            files.update(
                (name, file) for name, file in own.items() if indexes or not _is_index(name)
            )
        entries[projection.name] = {
            **entry,
            "tables": [table.name for table in projection.tables],
            "digests": digests,
            LAYERS: table_layers_of,
        }
    meta = {**heads_meta, "families": families, META: entries}
    return files, meta


def _is_index(relpath: str) -> bool:
    return relpath.startswith(INDEXES)


def create_checkpoint(
    store: Engine, *, replace: bool = False, progress: Progress | None = None
) -> Checkpoint:
    """A checkpoint of every projection at the journal's head; catalog.json refreshed.

    It is built on the newest checkpoint whose files all hash right, so damage in a
    checkpoint is never carried into the next one (tests/journal/test_archive.py).
    """
    models, folds = open_read_models(store, locked=False, progress=progress, verify=True)
    try:
        return _publish(store, store.checkpoints, models, folds, replace=replace, layers=True)
    finally:
        models.close()


def _publish(
    store: Engine,
    target: CheckpointStore,
    models: ReadModels,
    folds: list[Fold],
    *,
    replace: bool,
    extra: dict[str, Any] | None = None,
    indexes: bool = True,
    layers: bool = False,
) -> Checkpoint:
    files, meta = checkpoint_content(
        models,
        folds,
        [family.name for family in store.families],
        extras=extra is None,
        indexes=indexes,
        layers=layers,
    )
    if extra is None:
        meta["segments"] = sealed_hashes(store, models.seq)
    checkpoint = target.create(models.seq, files, meta=meta | (extra or {}), replace=replace)
    if target is store.checkpoints and "catalog.json" in checkpoint.files:
        data = checkpoint.read_bytes("catalog.json")
        install_manifest(store.root, lambda: data, checkpoint.seq)
    return checkpoint


def sealed_hashes(store: Engine, upto: int) -> dict[str, str]:
    """sha256 of each sealed segment (archived ones too) whose records are all <= `upto`.

    Sealed segments never change, so hashes the newest checkpoint lists are reused.
    """
    latest = store.checkpoints.latest_valid()
    known: dict[str, str] = dict(latest.meta.get("segments", {})) if latest else {}
    out: dict[str, str] = {}
    for segment, last in store.journal.sealed():
        if last > upto:
            break
        out[segment.name] = known.get(segment.name) or file_sha256(segment.path)[0]
    return out


# -- rebuild -----------------------------------------------------------------------------


@dataclass
class RebuildReport:
    """What a rebuild did: the projections rebuilt, the checkpoint written, resumed from."""

    rebuilt: list[str]
    checkpoint: Checkpoint | None
    resumed_from: int = 0
    kept: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "rebuilt": self.rebuilt,
            "kept": self.kept,
            "checkpoint": self.checkpoint.name if self.checkpoint else None,
            "seq": self.checkpoint.seq if self.checkpoint else None,
            "resumed_from": self.resumed_from,
        }


def stale(store: Engine, projections: list[Projection]) -> list[Projection]:
    """The projections the latest valid checkpoint does not hold at their fingerprint."""
    head = store.journal.head_seq or 0
    groups = bases(store.checkpoints.list(), projections, at_most=head)
    latest = max(groups, default=0)
    return [p for seq, (_, group) in groups.items() if seq < latest or seq == 0 for p in group]


def rebuild(
    store: Engine,
    names: list[str] | None = None,
    *,
    everything: bool = False,
    progress: Progress | None = None,
    resume_every: int = RESUME_EVERY,
    bulk: bool = True,
) -> RebuildReport:
    """Rebuild projections from genesis (named ones, all, or the stale ones) into a checkpoint.

    In bulk (lakehouse/_bulk.py: one pass of SQL) where the history allows it, unless
    `bulk` is False; else record by record, leaving a resume point every `resume_every`
    records so that a killed rebuild carries on where it stopped.
    """
    projections = store.projections()
    if everything:
        chosen = projections
    elif names:
        chosen = [p for p in projections if p.name in names]
    else:
        chosen = stale(store, projections)
    if not chosen:
        return RebuildReport([], None, kept=[p.name for p in projections])
    upto = store.journal.head_seq or 0
    # its resume points and their removal go below projections/cache/: refuse (exit 7)
    # before any work if a symlink stands on the way (tests/lakehouse/test_symlinks.py)
    check_dir(store.root, "projections/cache", create=True)
    shadow = CheckpointStore(store.root / LEFTOVER)
    # in bulk (SQL) if the history allows it, which needs no resume points: it is one pass
    done = bulk_fold(store, chosen, upto=upto) if bulk else None
    resumed = 0
    if done is not None:
        folds, con = list(done.folds), done.con
    else:
        rebuilt, resumed = _fold_with_resume(
            store, shadow, chosen=chosen, upto=upto, progress=progress, every=resume_every
        )
        folds, con = [rebuilt], connect_models(store.root, locked=False)
    others = [p for p in projections if p not in chosen]
    try:
        listed, cache = store.checkpoints.list(), store.checkpoints.verified()
        for base, group in bases(listed, others, at_most=upto, verify=True, cache=cache).values():
            folds.append(fold(store, base, group, upto=upto))
        cache.save()
        parts: list[Part] = [part for done in folds for part in done.parts]
        models = ReadModels(con, parts, upto)
    except BaseException:
        con.close()
        raise
    checkpoint = _publish_rebuilt(store, models, folds, others, projections, done)
    remove_tree(store.root, LEFTOVER)
    store.forget_heads()
    return RebuildReport(
        [p.name for p in chosen], checkpoint, resumed, kept=[p.name for p in others]
    )


def _publish_rebuilt(  # noqa: PLR0917 - the rebuild's state, handed on
    store: Engine,
    models: ReadModels,
    folds: list[Fold],
    others: list[Projection],
    projections: list[Projection],
    done: BulkFold | None,
) -> Checkpoint:
    """Publish a rebuild: the tables first, so reads start from them while the indexes are
    built (a search of a checkpoint without its index is exact: lakehouse/_search.py),
    then the same checkpoint again with the indexes, swapped in as a rebuild swaps any
    checkpoint. Closes `models` and the fold in bulk `done`."""
    try:
        checkpoint = _publish(store, store.checkpoints, models, folds, replace=True, indexes=False)
        kept_index = any(isinstance(p, SearchProjection) for p in others)
        if kept_index:  # a kept index is carried forward from the models that hold it
            for held in folds:  # written: their memory goes before the indexes take theirs
                held.drop_heads()
            return _with_indexes(store, checkpoint, models)
    finally:
        models.close()
        if done is not None:
            done.close()
    # every index anew: built from the tables just published, once the fold's memory
    # (DuckDB's tables, the heads) is let go (tools/bench/projection_bench.py row F)
    return _indexes_from(store, checkpoint, projections)


def _indexes_from(
    store: Engine, checkpoint: Checkpoint, projections: list[Projection]
) -> Checkpoint:
    """`checkpoint` again with every vector index, built from the tables it holds."""
    searched: list[Projection] = [p for p in projections if isinstance(p, SearchProjection)]
    if not searched:
        return checkpoint
    done = fold(store, checkpoint, searched, upto=checkpoint.seq)
    try:
        models = ReadModels(connect_models(store.root, locked=False), done.parts, checkpoint.seq)
        try:
            return _with_indexes(store, checkpoint, models)
        finally:
            models.close()
    finally:
        done.close()


def _with_indexes(store: Engine, checkpoint: Checkpoint, models: ReadModels) -> Checkpoint:
    """`checkpoint` again with the vector indexes of `models`, replacing it (its other
    files shared as they are: hard links); itself if no projection has an index."""
    files: dict[str, Any] = {}
    for part in models.parts.values():
        if part.changes.stopped is None:
            own = part.projection.files(models)
            files.update((name, file) for name, file in own.items() if _is_index(name))
    if not files:
        return checkpoint
    shared: dict[str, Any] = {name: checkpoint.shared(name) for name in checkpoint.files}
    return store.checkpoints.create(
        checkpoint.seq, {**shared, **files}, meta=checkpoint.meta, replace=True
    )


def persist_stale(
    store: Engine, listed: list[Checkpoint], projections: list[Projection], *, upto: int
) -> bool:
    """Rebuild, once, `projections`, which a read at `upto` would fold from genesis though
    the store has checkpoints (`listed`: their code changed since): every read after that
    starts from the checkpoint this writes, where each used to fold the whole history
    again (`fold_all` calls this: see `stale`). True if it wrote one.

    Only past PERSIST_FROM records (a short history folds faster than a checkpoint is
    written). A rebuild that cannot be written (a read-only store, a full disk) is logged
    and the read folds as it always did.
    """
    if upto < PERSIST_FROM or not any(checkpoint.valid for checkpoint in listed):
        return False  # a short history, or a young store: the cadence writes its first one
    names = [projection.name for projection in projections]
    try:
        rebuild(store, names)
    except (LakehouseError, OSError) as error:
        log.warning("could not rebuild %s for the read: %s", ", ".join(names), error)
        return False
    return True


def _fold_with_resume(
    store: Engine,
    shadow: CheckpointStore,
    *,
    chosen: list[Projection],
    upto: int,
    progress: Progress | None,
    every: int,
) -> tuple[Fold, int]:
    """Fold `chosen` from genesis (or a resume point) to `upto`, leaving resume points."""
    identity = {p.name: p.fingerprint for p in chosen}
    base = _resume_point(shadow, identity, upto)
    resumed = base.seq if base else 0
    while True:
        start = base.seq if base else 0
        stop = min(upto, start + every)
        done = fold(store, base, chosen, upto=stop, progress=progress)
        if stop >= upto:
            return done, resumed
        check_dir(store.root, LEFTOVER, create=True)
        models = ReadModels(connect_models(store.root, locked=False), done.parts, stop)
        try:
            base = _publish(
                store, shadow, models, [done], replace=True, extra={"rebuild": identity}
            )
        finally:
            models.close()


def _resume_point(
    shadow: CheckpointStore, identity: dict[str, str], upto: int
) -> Checkpoint | None:
    if not shadow.directory.is_dir():
        return None
    for checkpoint in reversed(shadow.list()):
        if (
            checkpoint.valid
            and checkpoint.seq <= upto
            and checkpoint.meta.get("rebuild") == identity
            # fully verified: its tables, and the heads shards no record touches again, are
            # copied into the new checkpoint as they are, so damage would be carried forward
            and not any(finding.severity == "error" for finding in checkpoint.verify())
        ):
            return checkpoint
    return None
