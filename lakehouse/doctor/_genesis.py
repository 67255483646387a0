"""Every projection rebuilt from genesis, as read models at the seqs a verify asks for.

The fold runs in chunks of `RESUME_EVERY` records, as a rebuild does: at the end of each
chunk the state is written as a scratch checkpoint (tables and heads, no indexes) in a
directory of its own under projections/cache/, and the next chunk folds on top of it.
Memory therefore stays bounded by a chunk, not by the history; the scratch directory is
removed when the walk ends (a killed verify leaves it for `doctor --repair` to sweep).
Nothing the store's readers use is touched: the scratch checkpoints are never listed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from checkpoints import Checkpoint, CheckpointStore
from journal import LakehouseError, check_dir, remove_tree
from lakehouse._bulk import bulk_fold
from lakehouse._errors import CommandError
from lakehouse._readmodels import Fold, Progress, connect_models
from lakehouse._rebuild import RESUME_EVERY, checkpoint_content
from lakehouse.doctor._disk import SCRATCH
from projections import Projection, ReadModels

if TYPE_CHECKING:
    from lakehouse._kernel import Engine


@contextmanager
def scratch(root: Path) -> Iterator[CheckpointStore]:
    """A fresh scratch checkpoint store under projections/cache/, removed afterwards."""
    relpath = f"projections/cache/{SCRATCH}{os.getpid()}-{secrets.token_hex(4)}"
    check_dir(root, "projections/cache", create=True)
    path = check_dir(root, relpath, create=True)  # a fresh name: nobody else has it
    try:
        yield CheckpointStore(path)
    finally:
        with contextlib.suppress(OSError):
            remove_tree(root, relpath)


def replay(
    store: Engine,
    projections: list[Projection],
    stops: list[int],
    shadow: CheckpointStore,
    *,
    every: int = RESUME_EVERY,
    progress: Progress | None = None,
) -> Iterator[tuple[int, ReadModels, Fold]]:
    """Fold `projections` from genesis; at each seq in `stops`, yield its read models.

    The models (an in-memory DuckDB) and the fold are valid until the next step; the
    caller must not close them. Each stop is folded in bulk (lakehouse/_bulk.py) while the
    history allows; from the first it does not, record by record.
    """
    pending = sorted(set(stops))
    while pending:
        got = bulk_fold(store, projections, upto=pending[0])
        if got is None:
            break
        first = got.folds[0]
        first.parts = [part for done in got.folds for part in done.parts]  # all, for the caller
        models = ReadModels(got.con, first.parts, pending[0], owns_parts=False)
        try:
            yield pending.pop(0), models, first
        finally:
            models.close()
            got.close()
    if not pending:
        return
    yield from _replay(store, projections, pending, shadow, every=every, progress=progress)


def _replay(
    store: Engine,
    projections: list[Projection],
    pending: list[int],
    shadow: CheckpointStore,
    *,
    every: int,
    progress: Progress | None,
) -> Iterator[tuple[int, ReadModels, Fold]]:
    """`replay` record by record, scratch checkpoints every `every` records."""
    head = pending[-1]
    families = [family.name for family in store.families]
    base: Checkpoint | None = None
    while True:
        start = base.seq if base is not None else 0
        end = min(head, start + every)
        done = Fold(store, base, projections)
        try:
            while pending and pending[0] <= end:
                stop = pending.pop(0)
                advance(done, stop, progress)
                models = _models(store, done, stop)
                try:
                    yield stop, models, done
                finally:
                    models.close()
            if end >= head:
                return
            advance(done, end, progress)
            models = _models(store, done, end)
            try:
                files, meta = checkpoint_content(models, [done], families, extras=False)
                made = shadow.create(end, files, meta=meta)
            finally:
                models.close()
        finally:
            done.close()
        if base is not None:
            with contextlib.suppress(OSError):
                remove_tree(base.path.parent, base.path.name)
        base = made


class FoldFailed(Exception):
    """A record the heads or a projection could not take, for a reason not foreseen.

    Every read of the store fails on such a record too; the doctor reports it rather
    than fail with it.
    """

    def __init__(self, seq: int, error: Exception) -> None:
        super().__init__(f"seq {seq}: {type(error).__name__}: {error}")
        self.seq = seq
        self.error = error


def advance(done: Fold, upto: int, progress: Progress | None = None) -> None:
    """`done.advance(upto)`; an unforeseen failure becomes FoldFailed naming the record."""
    try:
        done.advance(upto, progress)
    except CommandError as error:  # a record its family cannot fold: unknown entity or kind
        raise FoldFailed(int(error.fields.get("seq") or done.heads.seq), error) from error
    except (LakehouseError, OSError):
        raise
    except Exception as error:  # a family's fold or a projection's code gave way
        raise FoldFailed(done.heads.seq, error) from error


def _models(store: Engine, done: Fold, seq: int) -> ReadModels:
    """Read models over a fold's parts; closing them leaves the parts to the fold."""
    con = connect_models(store.root, locked=False)
    try:
        return ReadModels(con, done.parts, seq, owns_parts=False)
    except BaseException:
        con.close()
        raise
