"""`Store`: the journal, its checkpoints and the four families behind one Python API.

Every mutation runs as a command under the store lock: the heads are brought up to the
journal's head (the latest checkpoint plus the records after it), the command decides
against them, and only then are its records appended, as one atomic batch. A command
that refuses raises before anything is written.
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from collections.abc import Collection, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from checkpoints import Checkpoint, CheckpointStore
from journal import Journal, Record
from lakehouse._errors import DamageWarning, InvalidInput, SnapshotDamaged
from lakehouse._family import Family
from lakehouse._heads import Heads
from lakehouse._kernel import (
    Command,
    Engine,
    Outcome,
    primary,
    remembered,
    replay,
    request_fingerprint,
)
from lakehouse._query import sql as query_sql
from lakehouse._snapshot import Snapshot

if TYPE_CHECKING:
    from lakehouse._readmodels import Progress
    from lakehouse.catalog import Datasets
    from lakehouse.playbooks import Playbooks
    from lakehouse.sessions import Sessions
    from lakehouse.traces import Traces
    from projections import Projection, ReadModels

CHECKPOINT_EVERY = 100_000  # records between automatic checkpoints (0: never)
CHECKPOINT_ENV = "LAKEHOUSE_CHECKPOINT_EVERY"
_RACES = 5  # times to pick a checkpoint again when one vanishes as it is opened


class Store:
    """A lakehouse store: `Store.open(root)`, then `store.traces.add(...)` and friends."""

    if TYPE_CHECKING:  # set from the registry in __init__
        datasets: Datasets
        playbooks: Playbooks
        sessions: Sessions
        traces: Traces

    def __init__(
        self, root: Path, journal: Journal, *, checkpoint_every: int | None = None
    ) -> None:
        from lakehouse import _registry

        self.root = root
        self.journal = journal
        self.checkpoints = CheckpointStore(root)
        self.families: list[Family[Any]] = _registry.families()
        self.checkpoint_every = _checkpoint_every(checkpoint_every)
        self._heads: Heads | None = None
        self._projections: list[Projection] | None = None
        self._checkpoint_seen = 0  # the newest checkpoint seq this store has seen
        self._damaged: set[int] = set()  # checkpoints whose heads snapshot did not verify
        for plugin in _registry.PLUGINS:  # store.traces = Traces(store), ...
            setattr(self, plugin.attribute, plugin.api(self))

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str],
        *,
        create: bool = False,
        checkpoint_every: int | None = None,
        **options: Any,
    ) -> Store:
        """Open the store at `root` (with create=True, initialise it if needed).

        A checkpoint is made after the command that takes the journal `checkpoint_every`
        records past the latest one (default 100,000, or $LAKEHOUSE_CHECKPOINT_EVERY; 0
        turns it off), and after a command that sealed a segment no checkpoint covers.
        """
        path = Path(root)
        journal = Journal.open(path, create=create, **options)
        return cls(path, journal, checkpoint_every=checkpoint_every)

    # -- heads ---------------------------------------------------------------------------

    def heads(self, *, as_of: int | None = None) -> Heads:
        """The heads as of the journal's current head, or as of seq `as_of` (no lock taken).

        As of a seq: the newest checkpoint at or before it whose heads verify, plus the
        records after that up to `as_of`, from the archived segments when the checkpoint
        is older than the live ones; InvalidInput (exit 3) for a seq beyond the head.
        """
        if as_of is None:
            heads = self._heads_base()
            heads.advance(self.records(after=heads.seq))
            return heads
        from lakehouse._readmodels import target_seq

        upto = target_seq(self, as_of)
        past = Heads(self.families, self._snapshot(before=upto + 1), fallback=self.fall_back)
        past.advance(self.records(after=past.seq, upto=upto))
        return past

    def _heads_base(self) -> Heads:
        """Cached heads, or fresh ones from the latest valid checkpoint."""
        if self._heads is None:
            self._heads = Heads(self.families, self._snapshot(), fallback=self.fall_back)
        return self._heads

    def _snapshot(self, *, before: int | None = None) -> Snapshot | None:
        """The heads snapshot of the latest valid checkpoint (older than `before`) not
        known to be damaged; None: fold from genesis."""
        for _ in range(_RACES):
            at_most = None if before is None else before - 1
            latest = self.checkpoints.latest_valid(at_most=at_most)
            while latest is not None and latest.seq in self._damaged:
                latest = self.checkpoints.latest_valid(at_most=latest.seq - 1)
            try:
                return Snapshot(latest) if latest and "heads" in latest.meta else None
            except FileNotFoundError:
                continue  # pruned or replaced since it was listed: pick again
        return None  # checkpoints keep vanishing: use genesis

    def fall_back(
        self, damage: SnapshotDamaged, upto: int
    ) -> tuple[Snapshot | None, Iterable[Record]]:
        """An older snapshot than the damaged one, and the records after it up to `upto`.

        The damaged checkpoint is not used again by this store, and a DamageWarning says
        so; `lakehouse doctor` reports it and `doctor --repair` sets it aside.
        """
        seq = int(damage.fields.get("seq", upto))
        self._damaged.add(seq)
        snapshot = self._snapshot(before=seq)
        since = f"checkpoint {snapshot.checkpoint.name}" if snapshot else "genesis"
        warnings.warn(
            DamageWarning(
                f"{damage.message}: the heads are folded from {since} instead",
                hint="'lakehouse doctor' reports the damage; 'lakehouse doctor --repair' "
                "sets the checkpoint aside and writes a sound one",
                checkpoint=damage.fields.get("checkpoint"),
                file=damage.fields.get("file"),
            ),
            stacklevel=2,
        )
        return snapshot, self.records(after=snapshot.seq if snapshot else 0, upto=upto)

    def records(self, *, after: int, upto: int | None = None) -> Iterable[Record]:
        """The records after seq `after` (up to `upto`), from archived segments if need be."""
        reading = self.journal.read(after=after)
        if reading.gap:  # a checkpoint older than the archive is the base
            reading = self.journal.read(after=after, archived=True)
        if upto is None:
            return reading
        return itertools.takewhile(lambda record: record.seq <= upto, reading)

    def forget_heads(self) -> None:
        """Drop the cached heads: the next command starts from the newest checkpoint."""
        self._heads = None

    # -- commands ------------------------------------------------------------------------

    def execute(
        self, command: Command, *, idempotency_key: str | None = None, request: Any = None
    ) -> Outcome:
        """Run a command under the store lock: decide against current heads, then append."""
        fingerprint = request_fingerprint(request) if idempotency_key else None
        with self.journal.transaction() as tx:
            heads = self._heads_base()
            if tx.head_seq > heads.seq:  # another process appended since we last looked
                heads.advance(self.records(after=heads.seq))
            if idempotency_key is not None:
                first = heads.idempotent(idempotency_key)
                if first is not None:
                    return replay(idempotency_key, first, fingerprint)
            decision = command(heads)
            if decision.noop:
                head = heads.get(decision.entity, decision.id)
                return Outcome(
                    None,
                    decision.entity,
                    decision.id,
                    decision.rev,
                    appended=False,
                    head=head,
                    extra=decision.extra,
                )
            if idempotency_key is not None:
                remembered(decision, idempotency_key, fingerprint)
            records = tx.append_many(decision.drafts)
            heads.advance(records)
        self._checkpoint_if_due(records[-1].seq)
        answer = primary(records, decision)
        return Outcome(
            answer.seq,
            decision.entity,
            decision.id,
            decision.rev,
            head=heads.get(decision.entity, decision.id),
            extra=decision.extra,
        )

    # -- checkpoints ---------------------------------------------------------------------

    def checkpoint(self, *, progress: Progress | None = None) -> Checkpoint:
        """Snapshot every projection and the heads at the journal's head into a checkpoint."""
        from lakehouse._rebuild import create_checkpoint

        checkpoint = create_checkpoint(self, progress=progress)
        self._heads = None  # the next command starts from the new checkpoint
        return checkpoint

    def _checkpoint_if_due(self, seq: int) -> None:
        """Make the automatic checkpoint if one is due; a failure only warns.

        The command's records are already durable and acknowledged, so a checkpoint that
        cannot be written must not turn the command into an error.
        """
        if not self.checkpoint_every:
            return
        sealed = self.journal.sealed_upto()
        # checkpoints only ever get newer, so one known to exist that makes none due spares
        # listing checkpoints/ on every command
        for last in (self._checkpoint_seen, newest_checkpoint(self)):
            self._checkpoint_seen = last
            if seq - last < self.checkpoint_every and sealed <= last:
                return
        try:
            self.checkpoint()
        except Exception as error:
            # whatever the cause (a DuckDB write error is neither a LakehouseError nor an
            # OSError), the command's records are durable: it has succeeded
            warnings.warn(f"automatic checkpoint at seq {seq} failed: {error}", stacklevel=3)

    # -- read models ---------------------------------------------------------------------

    def projections(self) -> list[Projection]:
        """The store's projections (their fingerprints reflect this code and embedder)."""
        if self._projections is None:
            from lakehouse._registry import projections

            self._projections = projections(self.root)
        return self._projections

    def read_models(
        self, *, as_of: int | None = None, only: Collection[str] | None = None
    ) -> ReadModels:
        """The read models at the head (or `as_of`), locked down for user SQL; with `only`,
        just the named projections' (a search folds its two, not all seven)."""
        from lakehouse._readmodels import open_read_models

        chosen = None
        if only is not None:
            chosen = [projection for projection in self.projections() if projection.name in only]
            unknown = set(only) - {projection.name for projection in chosen}
            if unknown:
                raise ValueError(f"no projection named {', '.join(sorted(unknown))}")
        from lakehouse._rebuild import persist_stale

        # at the head, a projection whose code changed is rebuilt once, not on every read
        stale = functools.partial(persist_stale, self) if as_of is None else None
        return open_read_models(self, as_of=as_of, projections=chosen, stale=stale)[0]

    sql = query_sql  # store.sql(query, params=, as_of=, format=): see lakehouse/_query.py

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the journal and the files of the cached heads' checkpoint snapshot."""
        heads, self._heads = self._heads, None
        try:
            if heads is not None and heads.snapshot is not None:
                # not left to the collector: Heads and Store refer to each other (the
                # fallback), and a fold's gc.freeze() can make such a cycle immortal
                heads.snapshot.close()
        finally:
            self.journal.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _checkpoint_every(value: int | None) -> int:
    if value is None:
        text = os.environ.get(CHECKPOINT_ENV) or str(CHECKPOINT_EVERY)
        try:
            value = int(text)
        except ValueError:
            raise InvalidInput(
                f"{CHECKPOINT_ENV}={text!r} is not a record count",
                hint=f"set {CHECKPOINT_ENV} to 0 (off) or a number of records, e.g. 100000",
                field=CHECKPOINT_ENV,
            ) from None
    if value < 0:
        raise InvalidInput(
            f"checkpoint_every must be 0 (off) or a record count, not {value}",
            hint=f"set {CHECKPOINT_ENV} or checkpoint_every to 0 or more",
            field="checkpoint_every",
        )
    return value


def newest_checkpoint(store: Engine) -> int:
    """The seq of the newest checkpoint directory (by name alone: cheap enough to poll)."""
    return store.checkpoints.newest_seq()
