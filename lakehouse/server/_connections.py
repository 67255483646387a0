"""Connections under a bound: a cap on how many are open, and timeouts for clients that
send nothing, send slowly, or stop reading.

uvicorn on its own closes nothing that never sent a byte (its keep-alive timer starts
only after a response), and its `limit_concurrency` counts idle connections too and
answers 503 with a log line per request. So 20,000 idle sockets took every file
descriptor: the accept loop then failed with EMFILE (logged with a traceback up to 2,048
times a tick: 138 MB in 40 s) and /health went unanswered. Here, instead:

- At most `max_connections` are open. At the cap, a new connection closes the oldest idle
  one (no request in progress) to take its place, so idle sockets can never lock a real
  client out; if every one is busy, the new one is refused with a 503 envelope.
- A client must send a whole request (head and body) within `client_timeout` of
  connecting or of starting it, and must not stop reading an answer for that long; between
  requests a connection lives `keep_alive_timeout`.
- Refused and closed connections are counted and logged once per `log_interval`, not once
  per socket.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

from lakehouse.httpkit import RETRY_AFTER, WATERMARK_HEADER, TooManyConnections, dumps

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("lakehouse.server")


class ConnectionGuard:
    """The open connections of one server, the idle ones oldest first, and the counts."""

    def __init__(
        self,
        limit: int,
        *,
        client_timeout: float,
        keep_alive_timeout: float,
        log_interval: float,
        watermark: Callable[[], int],
    ) -> None:
        self.limit = limit
        self.client_timeout = client_timeout
        self.keep_alive_timeout = keep_alive_timeout
        self.log_interval = log_interval
        self.watermark = watermark
        self.open: set[GuardedProtocol] = set()
        self.idle: dict[GuardedProtocol, None] = {}  # insertion order: the oldest idle first
        self.accepted = 0  # accepted by the listening socket, no protocol made yet
        self.starting: weakref.WeakSet[GuardedProtocol] = weakref.WeakSet()  # no transport yet
        self.closing: set[GuardedProtocol] = set()  # closed here, descriptor not yet released
        self.counts = dict.fromkeys(("refused", "evicted", "timed_out", "stalled"), 0)
        self._pending = dict.fromkeys(self.counts, 0)  # not yet logged
        self._flush: asyncio.TimerHandle | None = None

    @property
    def unsettled(self) -> int:
        """Descriptors taken beyond the open connections: accepted ones, closing ones."""
        return self.accepted + len(self.starting) + len(self.closing)

    def arrived(self, connection: GuardedProtocol) -> None:
        """A connection accepted has its protocol, and soon its transport (or it is dropped
        and forgotten: `starting` holds it weakly)."""
        self.accepted = max(0, self.accepted - 1)
        self.starting.add(connection)

    def close(self, connection: GuardedProtocol, *, abort: bool = False) -> None:
        """Close a connection and stop counting it as open (its descriptor goes soon)."""
        self.forget(connection)
        self.closing.add(connection)
        if abort:
            connection.transport.abort()  # close() would wait for the client to read
        else:
            connection.transport.close()

    def admit(self, connection: GuardedProtocol) -> bool:
        """Count a new connection in, closing the oldest idle one at the cap; False: refuse."""
        self.starting.discard(connection)
        if len(self.open) >= self.limit:
            oldest = next(iter(self.idle), None)
            if oldest is None:
                self.note("refused")
                return False
            self.close(oldest)
            self.note("evicted")
        self.open.add(connection)
        self.idle[connection] = None
        return True

    def busy(self, connection: GuardedProtocol) -> None:
        """The connection has a request in progress: it is not closed to admit another."""
        self.idle.pop(connection, None)

    def rest(self, connection: GuardedProtocol) -> None:
        """The connection has no request in progress: the newest idle one."""
        if connection in self.open:
            self.idle.pop(connection, None)
            self.idle[connection] = None

    def forget(self, connection: GuardedProtocol) -> None:
        """The connection is closing: it no longer counts as open."""
        self.open.discard(connection)
        self.idle.pop(connection, None)

    def gone(self, connection: GuardedProtocol) -> None:
        """The connection is closed and its descriptor released."""
        self.forget(connection)
        self.closing.discard(connection)

    def note(self, event: str) -> None:
        """Count an event: the first after a quiet interval is logged now, the others in
        one line at the end of each interval they happen in."""
        self.counts[event] += 1
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self.log_interval, self._report)
            self._log({event: 1}, first=True)
        else:
            self._pending[event] += 1

    def _report(self) -> None:
        pending, self._pending = self._pending, dict.fromkeys(self.counts, 0)
        self._flush = None
        if any(pending.values()):  # not quiet: the next interval is counted too
            self._log(pending, first=False)
            self._flush = asyncio.get_running_loop().call_later(self.log_interval, self._report)

    def _log(self, events: dict[str, int], *, first: bool) -> None:
        said = {
            "refused": "refused {} (all {} connections busy)",
            "evicted": "closed {} idle to admit new ones (at the cap of {})",
            "timed_out": "closed {} that sent no whole request in time",
            "stalled": "dropped {} that stopped reading an answer",
        }
        parts = [said[key].format(count, self.limit) for key, count in events.items() if count]
        when = (
            f"(further ones are counted and logged every {self.log_interval:g} s)"
            if first
            else f"in the last {self.log_interval:g} s"
        )
        level = logging.WARNING if events.get("refused") or events.get("evicted") else logging.INFO
        log.log(level, "connections: %s %s", "; ".join(parts), when)

    def refusal(self) -> bytes:
        """The 503 answer written to a connection refused at the cap, before closing it."""
        error = TooManyConnections(
            f"all {self.limit} connections the server allows are busy",
            hint="retry in a moment; the server closes idle connections to admit new ones",
            limit=self.limit,
        )
        status, watermark = error.http_status, self.watermark()
        body = dumps(
            {"ok": False, "status": status, "watermark": watermark, "error": error.to_dict()}
        )
        head = (
            f"HTTP/1.1 {status} Service Unavailable\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{WATERMARK_HEADER.lower()}: {watermark}\r\n"
            f"connection: close\r\nretry-after: {RETRY_AFTER}\r\n\r\n"
        )
        return head.encode() + body


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol, counted by a `ConnectionGuard` and timed out by it."""

    guard: ClassVar[ConnectionGuard]  # set on the subclass made for each server

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard.arrived(self)
        self.timeout_keep_alive = self.guard.keep_alive_timeout  # type: ignore[assignment]
        self.admitted = False
        self.waiting_since: object = None  # the cycle before the request awaited
        self.request_timer: asyncio.TimerHandle | None = None
        self.stall_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection (or refuse it with a 503) and start its request timer."""
        self.transport = transport
        if not self.guard.admit(self):
            transport.write(self.guard.refusal())
            self.guard.close(self)
            return
        self.admitted = True
        super().connection_made(transport)
        self._start_request_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop counting the connection and its timers."""
        self.guard.gone(self)
        self._cancel_timers()
        if self.admitted:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed h11; once a whole request is in, its timer stops and it counts as busy."""
        if self.request_timer is None and self.cycle is self.waiting_since:
            self._start_request_timer()  # the first bytes of the next request
        super().data_received(data)
        if self.cycle is not self.waiting_since:
            self._started()
        # no request yet: the connection keeps its place among the idle, so trickling bytes
        # does not make it the newest (the last one closed at the cap)

    def on_response_complete(self) -> None:
        """The answer is sent: the connection rests until its next request."""
        self.waiting_since = self.cycle
        super().on_response_complete()  # may start a pipelined request at once
        if self.transport.is_closing():
            return
        if self.cycle is self.waiting_since:
            self.guard.rest(self)  # idle from now: the newest idle one
        else:
            self._started()

    def pause_writing(self) -> None:
        """The client reads slower than the answer goes: drop it if it stays stuck."""
        super().pause_writing()
        if self.stall_timer is None:
            self.stall_timer = self.loop.call_later(self.guard.client_timeout, self._stalled)

    def resume_writing(self) -> None:
        """The client reads again."""
        super().resume_writing()
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None

    def _started(self) -> None:
        """A request is in progress (its head is in); once its body is in too, it is timed
        no more (the route's own limits take over)."""
        self.guard.busy(self)
        if not self.cycle.more_body and self.request_timer is not None:
            self.request_timer.cancel()
            self.request_timer = None

    def _start_request_timer(self) -> None:
        self.request_timer = self.loop.call_later(self.guard.client_timeout, self._timed_out)

    def _timed_out(self) -> None:
        self.request_timer = None
        if not self.transport.is_closing():
            self.guard.note("timed_out")
            self.guard.close(self)

    def _stalled(self) -> None:
        self.stall_timer = None
        if not self.transport.is_closing():
            self.guard.note("stalled")
            self.guard.close(self, abort=True)

    def _cancel_timers(self) -> None:
        for timer in (self.request_timer, self.stall_timer):
            if timer is not None:
                timer.cancel()
        self.request_timer = self.stall_timer = None


def protocol_for(guard: ConnectionGuard) -> type[GuardedProtocol]:
    """The protocol class uvicorn makes each connection with, bound to `guard`."""
    return type("Guarded", (GuardedProtocol,), {"guard": guard})
