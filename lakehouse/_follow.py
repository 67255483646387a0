"""Read models that follow the journal: each refresh folds only what was appended since.

A long-lived reader (the query endpoint) keeps one `Follower`. `refresh()` reads the
records after its watermark and feeds them to the folds it keeps, or starts again from a
newer checkpoint when one appears, then swaps in a new `ReadModels` built whole: a query
holds the models it started with, so it never sees a half-applied state, and an old
generation is closed when the last query using it lets go (its pinned files with it).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from lakehouse._readmodels import Fold, build_models, fold_all
from lakehouse._rebuild import persist_stale
from lakehouse._store import newest_checkpoint
from projections import ReadModels

if TYPE_CHECKING:
    from lakehouse._kernel import Engine


class Follower:
    """The newest read models of a store, brought up to date by `refresh()`."""

    def __init__(
        self, store: Engine, *, locked: bool = True, limits: dict[str, Any] | None = None
    ) -> None:
        self.store = store
        self.locked = locked
        self.limits = limits or {}  # for each connection (see `connect_models`)
        self._lock = threading.Lock()
        self._folds: list[Fold] = []
        self._checkpoint = -1  # the newest checkpoint seen when the folds were started
        self.models: ReadModels = self._start(store.journal.head_seq or 0)

    @property
    def watermark(self) -> int:
        """The seq the served read models reflect."""
        return self.models.seq

    def refresh(self) -> ReadModels:
        """Fold new records (or restart from a newer checkpoint); the models now served."""
        with self._lock:
            head = self.store.journal.head_seq or 0
            if newest_checkpoint(self.store) > self._checkpoint:
                self.models = self._start(head)
            elif head > self.models.seq:
                for fold in self._folds:
                    fold.advance(head)
                self.models = self._build(head)
            return self.models

    def close(self) -> None:
        """Close the served models and the folds' pinned files (the reader is done: no
        query may still hold these models)."""
        with self._lock:
            self.models.close()
            for fold in self._folds:
                fold.close()
            self._folds = []

    def _start(self, head: int) -> ReadModels:
        self._folds = fold_all(
            self.store,
            self.store.projections(),
            upto=head,
            stale=functools.partial(persist_stale, self.store),
        )
        self._checkpoint = newest_checkpoint(self.store)
        return self._build(head)

    def _build(self, head: int) -> ReadModels:
        return build_models(
            self.store.root, self._folds, head, locked=self.locked, owns_parts=False, **self.limits
        )
