"""The server's read models: a `Follower` kept fresh by a watchfiles thread.

The thread wakes when a segment or a checkpoint changes and calls `refresh()`, which
folds only the new records (or restarts from a newer checkpoint) and swaps in a whole new
`ReadModels`; a request holds the models it started with, so it never sees a half-applied
state. The server takes no lock and opens nothing for writing, so mutation verbs in other
processes never wait for it. Requests that ask for `min_seq` wait on a condition the
thread signals (refreshing themselves too, so a write acknowledged a moment ago is found
even before the watcher wakes); event streams wait on an asyncio event per waiter.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from lakehouse._follow import Follower
from lakehouse.httpkit import NotCaughtUp

if TYPE_CHECKING:
    from starlette.requests import Request

    from lakehouse import Store
    from lakehouse.server._config import ServerConfig
    from projections import ReadModels

log = logging.getLogger("lakehouse.server")
STEP_MS = 5  # watchfiles: a batch of changes ends after this long without a new one
DEBOUNCE_MS = 40  # ... or after this long in all, so a busy writer is followed promptly
SAFETY_MS = 1000  # refresh this often even without an event (a missed event costs 1 s)
WAIT_POLL = 0.05  # a min_seq waiter refreshes itself this often


class LiveModels:
    """The newest read models of a store, followed as the journal grows."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self.store = store
        limits: dict[str, Any] = {
            "memory_limit": config.memory_limit,
            "threads": config.threads,
            # a backstop behind run()'s watchdog, loose enough for our own queries
            "max_execution_time": 2 * config.sql_timeout + 1,
        }
        self.limits = limits  # every connection's: the followed ones and as_of ones
        self.follower = Follower(store, locked=True, limits=limits)
        self.closing = False
        self.last_error: str | None = None
        self._changed = threading.Condition()
        self._lock = threading.Lock()
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def models(self) -> ReadModels:
        """The read models served now (hold on to them for the whole of one request)."""
        return self.follower.models

    @property
    def watermark(self) -> int:
        """The seq the served read models reflect."""
        return self.follower.models.seq

    @property
    def watching(self) -> bool:
        """Whether the watcher thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def refresh(self) -> ReadModels:
        """Bring the read models up to the journal's head; wake every waiter on a change."""
        before = self.follower.models
        models = self.follower.refresh()
        if models is not before:
            self._notify()
        return models

    def wait_for(self, seq: int, timeout: float) -> ReadModels:
        """The read models once they reflect `seq`; NotCaughtUp after `timeout` seconds."""
        models = self.models
        deadline = time.monotonic() + timeout
        while models.seq < seq:
            try:
                models = self.refresh()
            except OSError:  # a checkpoint vanished as it was opened: the next try picks again
                models = self.models
            remaining = deadline - time.monotonic()
            if models.seq >= seq:
                break
            if remaining <= 0:
                head = self.store.journal.head_seq or 0
                raise NotCaughtUp(
                    f"the server reflects seq {models.seq}, not yet seq {seq}",
                    hint="retry shortly; a seq above the journal's head is never reached"
                    if seq > head
                    else "retry shortly, or pass a longer wait to the server",
                    min_seq=seq,
                    watermark=models.seq,
                    head_seq=head,
                )
            with self._changed:
                if self.watermark < seq:
                    self._changed.wait(min(remaining, WAIT_POLL))
            models = self.models
        return models

    async def changed(self, seen: int, timeout: float) -> None:
        """Return once the watermark is past `seen`, the server closes, or `timeout` passes."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._async_waiters.add(waiter)
        try:
            if self.watermark == seen and not self.closing:
                await asyncio.wait_for(waiter[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._async_waiters.discard(waiter)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()
        with self._lock:
            waiters = list(self._async_waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                continue

    # -- the watcher thread --------------------------------------------------------------

    def start(self) -> None:
        """Start following the journal in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="lakehouse-follow")
            self._thread.daemon = True
            self._thread.start()

    def close(self) -> None:
        """Stop following and wake every waiter, so event streams end (does not wait)."""
        self.closing = True
        self._stop.set()
        self._notify()

    def stop(self) -> None:
        """Close, wait for the watcher thread to end, then close the read models served
        (the server has stopped taking requests), so their pinned files are let go."""
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._thread is None or not self._thread.is_alive():
            self.follower.close()

    def _watch(self) -> None:
        import watchfiles

        root = self.store.root.resolve()
        # the journal's segments and the checkpoints, where each layer keeps them
        watched = tuple(
            str(root / directory.relative_to(self.store.root))
            for directory in (self.store.journal.segments_dir, self.store.checkpoints.directory)
        )

        def relevant(_change: watchfiles.Change, path: str) -> bool:
            return path.startswith(watched)

        try:
            self._refresh_quietly()  # anything appended while the server started
            for _ in watchfiles.watch(
                root,
                watch_filter=relevant,
                step=STEP_MS,
                debounce=DEBOUNCE_MS,
                rust_timeout=SAFETY_MS,
                yield_on_timeout=True,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                self._refresh_quietly()
        except Exception as error:  # the watcher is gone: say so on /health
            self.last_error = f"the journal watcher stopped: {error}"
            log.exception("the journal watcher stopped")

    def _refresh_quietly(self) -> None:
        """Refresh; a failure is kept for /health and retried on the next change."""
        try:
            self.refresh()
        except Exception as error:
            self.last_error = f"refresh failed at watermark {self.watermark}: {error}"
            log.warning("%s", self.last_error)
        else:
            self.last_error = None


def live_of(request: Request) -> LiveModels:
    """The server's live read models."""
    live: LiveModels = request.app.state.live
    return live
