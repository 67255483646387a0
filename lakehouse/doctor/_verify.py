"""`verify`: the proof that the journal alone reproduces the state (doctor --verify-journal).

Everything the quick doctor checks, with every checkpoint file hashed rather than sized;
then each sealed segment's sha256 against every checkpoint that lists it; then every
projection folded from genesis (`_genesis.replay`, in a scratch directory) and diffed,
table by table, against (a) the latest sound checkpoint read alone, at its own seq, and
(b) the live read models (each projection's checkpoint plus the records after it), at
the head the scan found. A journal with damage is not folded: the fold would stop at
the first damaged record, and the damage is already the finding.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from checkpoints import Checkpoint, is_checkpoint_name
from journal import LakehouseError, file_sha256
from lakehouse._readmodels import Fold, bases, connect_models, dead_letters, holds
from lakehouse._readmodels import open_read_models as open_live
from lakehouse.doctor._context import Context
from lakehouse.doctor._diff import TableDiff, diff_table
from lakehouse.doctor._disk import (
    check_checkpoints,
    check_objects,
    check_strays,
    check_unsafe,
)
from lakehouse.doctor._genesis import FoldFailed, replay, scratch
from lakehouse.doctor._lag import (
    check_projections,
    report_fold_failure,
    report_letters,
    report_stop,
)
from lakehouse.doctor._quick import check_journal, check_system
from lakehouse.doctor._report import Progress, Report, quiet
from lakehouse.doctor._system import LOCKS, MOUNTS
from projections import Part, Projection, ReadModels

_REPAIR = (
    "the journal is the truth: 'lakehouse doctor --repair' sets the checkpoint aside "
    "and rebuilds the projections from the journal"
)
_STUCK = "the journal could not be replayed: fix what the other findings name, then verify again"
_LIVE = "reads start from a checkpoint that does not hold what the journal says; " + _REPAIR


def verify(
    root: str | os.PathLike[str],
    *,
    mounts: Path = MOUNTS,
    locks: Path = LOCKS,
    progress: Progress = quiet,
) -> Report:
    """The full check of the store at `root`: every record, segment hash and projection."""
    with Context(root, "verify", progress) as ctx:
        check_system(ctx, mounts=mounts, locks=locks)
        progress("checking every record (parse, CRC, seq order, segment names)...")
        check_journal(ctx)
        progress("hashing every checkpoint file...")
        check_checkpoints(ctx, full=True)
        progress("hashing sealed segments against the checkpoints that list them...")
        check_segment_hashes(ctx)
        check_strays(ctx)
        check_unsafe(ctx)
        check_projections(ctx, fold_tail=False, letters=False)
        check_objects(ctx)
        if ctx.journal_damaged:
            ctx.add(
                "info",
                "rebuild_skipped",
                "the projections were not rebuilt from genesis: the journal is damaged, and "
                "a fold stops at the first damaged record",
                hint="restore the damaged segments from a backup, then verify again",
            )
        else:
            compare(ctx)
    return ctx.report


def check_segment_hashes(ctx: Context) -> None:
    """Each sealed segment a checkpoint lists must hash to the sha256 it lists."""
    journal = ctx.store.journal
    files = {segment.name: segment.path for segment in journal.archived()[0]}
    files.update((segment.name, segment.path) for segment in journal.segments()[0])
    known: dict[str, str] = {}
    for checkpoint in ctx.checkpoints:
        listed = checkpoint.meta.get("segments")
        for name, sha256 in sorted(listed.items() if isinstance(listed, dict) else []):
            path = files.get(name)
            if path is None:
                ctx.add(
                    "error",
                    "segment_missing",
                    f"{checkpoint.name} lists sealed segment {name}, which is in neither "
                    "journal/segments/ nor journal/archive/",
                    hint="restore the segment from a backup (archived segments are never "
                    "deleted by lakehouse)",
                    segment=name,
                    checkpoint=checkpoint.name,
                )
                continue
            if name not in known:
                known[name] = file_sha256(path)[0]
                ctx.report.count("segments_hashed")
            if known[name] != sha256:
                ctx.add(
                    "error",
                    "segment_hash_mismatch",
                    f"sealed segment {name} has sha256 {known[name][:12]}..., but "
                    f"{checkpoint.name} recorded {sha256[:12]}...: it changed after it was "
                    "sealed",
                    hint="sealed segments never change: restore it from a backup",
                    segment=name,
                    checkpoint=checkpoint.name,
                    path=str(path.relative_to(ctx.root)),
                )


def compare(ctx: Context) -> None:
    """Fold every projection from genesis; diff with the latest checkpoint and the live state."""
    store, head = ctx.store, ctx.head
    projections = store.projections()
    sound = ctx.sound_checkpoints()
    latest = sound[-1] if sound else None
    held = [p for p in projections if latest is not None and holds(latest, p)]
    stops = [head, *([latest.seq] if latest is not None and held else [])]
    # a projection no checkpoint holds is read by folding from genesis: nothing to compare
    based = [
        p
        for seq, (_, group) in bases(ctx.checkpoints, projections, at_most=head).items()
        if seq
        for p in group
    ]
    ctx.progress(f"rebuilding {len(projections)} projections from genesis to seq {head:,}...")
    with scratch(ctx.root) as shadow:
        walk = replay(store, projections, stops, shadow, progress=_ticker(ctx))
        try:
            for seq, models, done in walk:
                if latest is not None and held and seq == latest.seq:
                    ctx.progress(f"comparing with {latest.name}...")
                    _against_checkpoint(ctx, latest, held, models)
                if seq == head:
                    ctx.progress("comparing with the live read models...")
                    _against_live(ctx, based, models)
                    for part in done.parts:
                        report_letters(ctx, part.projection.name, dead_letters(part))
                        stop = part.changes.stopped
                        if stop is not None:
                            report_stop(ctx, stop.message, stop.hint, stop.fields.get("seq"))
        except FoldFailed as failed:
            report_fold_failure(ctx, failed)
        except _errors() as error:
            _failed(ctx, "rebuild_failed", "the fold from genesis", error, hint=_STUCK)


def _against_checkpoint(
    ctx: Context, latest: Checkpoint, held: list[Projection], genesis: ReadModels
) -> None:
    """The checkpoint's tables, read alone, against the fold from genesis at its seq."""
    try:
        alone = Fold(ctx.store, latest, held)  # no record after it: its own state
    except _errors() as error:
        _failed(
            ctx, "checkpoint_unreadable", f"reading {latest.name}", error, checkpoint=latest.name
        )
        return
    try:
        theirs = _models(ctx, alone.parts, latest.seq)
        try:
            for projection in _comparable(
                ctx, held, genesis, theirs, where=latest.name, seq=latest.seq
            ):
                for table in projection.tables:
                    diff = diff_table(genesis, theirs, genesis.tables[table.name])
                    if diff is not None:
                        _diverged(ctx, "checkpoint_diverged", latest.name, diff, latest.seq)
        finally:
            theirs.close()
    except _errors() as error:
        _failed(
            ctx, "checkpoint_unreadable", f"reading {latest.name}", error, checkpoint=latest.name
        )
    finally:
        alone.close()


def _against_live(ctx: Context, based: list[Projection], genesis: ReadModels) -> None:
    """The live read models (checkpoint + tail) against the fold from genesis at the head."""
    if not based:
        return
    try:
        live, folds = open_live(ctx.store, as_of=ctx.head, locked=False, projections=based)
    except _errors() as error:
        _failed(ctx, "live_unreadable", "reading the live read models", error)
        return
    try:
        where = "the live read models"
        for projection in _comparable(ctx, based, genesis, live, where=where, seq=ctx.head):
            for table in projection.tables:
                diff = diff_table(genesis, live, genesis.tables[table.name])
                if diff is not None:
                    _diverged(ctx, "projection_diverged", "the live read models", diff, ctx.head)
    except _errors() as error:
        _failed(ctx, "live_unreadable", "reading the live read models", error)
    finally:
        live.close()
        for done in folds:
            done.close()


def _comparable(
    ctx: Context,
    projections: list[Projection],
    genesis: ReadModels,
    theirs: ReadModels,
    *,
    where: str,
    seq: int,
) -> list[Projection]:
    """The projections whose tables both sides hold; a stop on one side only diverges.

    A stopped projection's tables answer no query: two stops at the same record agree
    (the stop itself is reported once, as projection_stopped).
    """
    out = []
    for projection in projections:
        mine, other = genesis.stopped.get(projection.name), theirs.stopped.get(projection.name)
        if mine is None and other is None:
            out.append(projection)
        elif mine != other:
            ctx.add(
                "error",
                "checkpoint_diverged" if is_checkpoint_name(where) else "projection_diverged",
                f"projection {projection.name} in {where} and the journal replayed from "
                f"genesis to seq {seq} disagree on where it stops: {other or 'it does not'}; "
                f"from genesis: {mine or 'it does not'}",
                hint=_REPAIR if is_checkpoint_name(where) else _LIVE,
                checkpoint=where if is_checkpoint_name(where) else None,
            )
    return out


def _models(ctx: Context, parts: list[Part], seq: int) -> ReadModels:
    con = connect_models(ctx.root, locked=False)
    try:
        return ReadModels(con, parts, seq, owns_parts=False)
    except BaseException:
        con.close()
        raise


def _diverged(ctx: Context, code: str, where: str, diff: TableDiff, seq: int) -> None:
    checkpoint = where if is_checkpoint_name(where) else None
    named = ", ".join(diff.entities)
    more = (
        f" and {diff.entity_count - len(diff.entities)} more"
        if diff.entity_count > len(diff.entities)
        else ""
    )
    ctx.add(
        "error",
        code,
        f"table {diff.table} in {where} differs from the journal replayed from genesis to "
        f"seq {seq}: {diff.describe()}; first divergent seq {diff.first_seq}, entities "
        f"{named or '(none)'}{more}",
        hint=_REPAIR if checkpoint else _LIVE,
        seq=diff.first_seq,
        entity=diff.entities[0] if diff.entities else None,
        checkpoint=checkpoint,
        table=diff.table,
        entities=tuple(diff.entities),
    )


def _failed(
    ctx: Context,
    code: str,
    what: str,
    error: BaseException,
    *,
    checkpoint: str | None = None,
    hint: str = _REPAIR,
) -> None:
    message = getattr(error, "message", None) or str(error).splitlines()[0]
    ctx.add(
        "error",
        code,
        f"{what} failed: {type(error).__name__}: {message}",
        hint=getattr(error, "hint", None) or hint,
        checkpoint=checkpoint,
        seq=getattr(error, "fields", {}).get("seq"),
    )


def _errors() -> tuple[type[BaseException], ...]:
    """What reading derived state can fail with: ours, the OS's, DuckDB's."""
    import duckdb

    return (LakehouseError, OSError, duckdb.Error)


def _ticker(ctx: Context) -> Callable[[int], None]:
    head = max(ctx.head, 1)

    def tick(seq: int) -> None:
        ctx.progress(f"  seq {seq:,} of {head:,} ({100 * seq // head}%)", transient=True)

    return tick
