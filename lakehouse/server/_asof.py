"""Reads as of a seq: `as_of=N` on every data route gives the state when the journal
ended at seq N, and says so (the envelope's watermark and the header are N).

Read models at N are folded for the request from the nearest checkpoint at or before N
plus the records up to N (archived segments too), on a connection of their own with the
server's limits, and closed when the request ends; N equal to the served watermark uses
the served models. Those folds cost CPU and memory, so at most `max_queries` are open at
once (429 beyond, at once, like SQL). N beyond the journal's head is a 400: a state not
yet written has no answer. To wait for a write first, pass `min_seq` too: it waits (as on
every route), then the as_of read is made (tests/server/test_clients.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lakehouse.httpkit import AsOfBeyondHead, TooManyQueries

if TYPE_CHECKING:
    from lakehouse.server._live import LiveModels
    from projections import ReadModels


class AsOfReads:
    """Read models at past seqs, a bounded number of them open at once."""

    def __init__(self, live: LiveModels, size: int) -> None:
        self.live = live
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def at(self, seq: int, served: ReadModels) -> Iterator[ReadModels]:
        """The read models at `seq` for the length of the block (`served` if it is theirs)."""
        check_as_of(self.live, seq)
        if seq == served.seq:
            yield served
            return
        if not self._free.acquire(blocking=False):
            raise TooManyQueries(
                f"all {self.size} reads as of a past seq are busy",
                hint="retry in a moment; each folds the journal up to its seq",
                limit=self.size,
            )
        try:
            from lakehouse._readmodels import open_read_models

            store = self.live.store
            models, folds = open_read_models(store, as_of=seq, locked=True, **self.live.limits)
            try:
                yield models
            finally:
                models.close()
                for fold in folds:
                    fold.close()
        finally:
            self._free.release()


def check_as_of(live: LiveModels, seq: int) -> int:
    """`seq` if the journal has reached it; AsOfBeyondHead (400) if not."""
    head = max(live.store.journal.head_seq or 0, live.watermark)
    if seq > head:
        raise AsOfBeyondHead(
            f"as_of {seq} is beyond the journal's head, seq {head}",
            hint=f"pass as_of from 0 to {head}; to wait for a write, pass min_seq as well",
            as_of=seq,
            head_seq=head,
        )
    return seq
