"""The application on uvicorn: guarded connections, the file descriptors they may take,
and logs that a flood of sockets cannot flood.

`make_server(app)` is what `lakehouse serve` runs (and what the tests run): uvicorn with
the protocol of `_connections` (a cap on open connections, idle ones closed first, client
timeouts), the cap held under the process's RLIMIT_NOFILE, no access log (where tokens and
queries would leak), and the messages asyncio and uvicorn log per connection (an accept
that fails for want of descriptors, a malformed request) cut to one per interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import uvicorn

from lakehouse.httpkit import ServerRefused
from lakehouse.server._connections import ConnectionGuard, protocol_for

if TYPE_CHECKING:
    from types import FrameType

    from fastapi import FastAPI

    from lakehouse.server._config import ServerConfig
    from lakehouse.server._live import LiveModels

FD_HEADROOM = 64  # descriptors kept for all but connections: checkpoint files, segments read
ACCEPT_SLACK = 64  # connections accepted but not yet counted, or closed but not yet gone
NOISY_LOGGERS = ("asyncio", "uvicorn.error")


class GuardedServer(uvicorn.Server):
    """uvicorn's server with the application's connection guard and quiet logs."""

    def __init__(self, config: uvicorn.Config, guard: ConnectionGuard, live: LiveModels) -> None:
        super().__init__(config)
        self.guard = guard
        self.live = live

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Stop: event streams end now rather than at the graceful timeout."""
        self.live.close()
        super().handle_exit(sig, frame)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve on `sockets` (they are taken over: see GuardedSocket), logs rate-limited."""
        if not sockets:
            raise ValueError("a GuardedServer serves only on listening sockets it is given")
        guarded: list[socket.socket] = [GuardedSocket.adopt(s, self.guard) for s in sockets]
        quiet = OncePerInterval(self.guard.log_interval)
        for name in NOISY_LOGGERS:
            logging.getLogger(name).addFilter(quiet)
        try:
            await super().serve(guarded)
        finally:
            for name in NOISY_LOGGERS:
                logging.getLogger(name).removeFilter(quiet)


class GuardedSocket(socket.socket):
    """A listening socket that accepts only while few accepted sockets are unaccounted for.

    asyncio accepts up to `backlog` (2,048) connections a tick, and the guard sees each
    only a tick or two later: under a flood, thousands of descriptors would be open before
    the guard could close one (EMFILE at any sane limit). Refusing to accept (as if none
    were waiting) while ACCEPT_SLACK are in flight or closing keeps the descriptors taken
    under `max_connections + ACCEPT_SLACK`; the rest wait in the kernel's queue.
    """

    guard: ConnectionGuard

    @classmethod
    def adopt(cls, sock: socket.socket, guard: ConnectionGuard) -> GuardedSocket:
        """Take over `sock`'s descriptor (`sock` is left detached)."""
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.guard = guard
        return adopted

    def accept(self) -> tuple[socket.socket, Any]:
        """Accept one connection, or raise BlockingIOError while ACCEPT_SLACK are unsettled."""
        if self.guard.unsettled >= ACCEPT_SLACK:
            raise BlockingIOError("the connections accepted last are not settled yet")
        accepted = super().accept()
        self.guard.accepted += 1
        return accepted


def make_server(app: FastAPI) -> GuardedServer:
    """The uvicorn server for `app`, bounded by its ServerConfig (see _connections)."""
    config: ServerConfig = app.state.config
    live = app.state.live
    guard = ConnectionGuard(
        connection_cap(config.max_connections),
        client_timeout=config.client_timeout,
        keep_alive_timeout=config.keep_alive_timeout,
        log_interval=config.log_interval,
        watermark=lambda: int(live.watermark),
    )
    settings = uvicorn.Config(
        app,
        http=protocol_for(guard),
        access_log=False,  # an access log is where tokens and queries would leak
        log_level="warning",
        timeout_graceful_shutdown=2,
        server_header=False,
        loop="asyncio",  # uvloop would accept without GuardedSocket.accept
    )
    return GuardedServer(settings, guard, live)


def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if the process's file descriptors could not hold that many.

    The soft RLIMIT_NOFILE is raised towards the hard one if it is too low; what is open
    already, FD_HEADROOM and ACCEPT_SLACK are kept back, so accepting never fails for want
    of one (tests/server/test_connections.py).
    """
    try:
        import resource
    except ImportError:  # not POSIX: nothing to ask
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held = _open_descriptors() + FD_HEADROOM + ACCEPT_SLACK
    if soft != resource.RLIM_INFINITY and soft < wanted + held:
        raised = wanted + held if hard == resource.RLIM_INFINITY else min(wanted + held, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY:
        return wanted
    if soft - held < 1:
        raise ServerRefused(
            f"the process may open {soft} files, too few to serve: {held} are kept back",
            hint="raise the limit (ulimit -n 4096) and start the server again",
            limit=soft,
        )
    return min(wanted, soft - held)


def _open_descriptors() -> int:
    for where in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return len(os.listdir(where))
    return 0


class OncePerInterval(logging.Filter):
    """Let through one record per message (its first line) per interval; count the rest.

    The next record let through for a message says how many like it were held back.
    """

    def __init__(self, interval: float) -> None:
        super().__init__()
        self.interval = interval
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to log this record (its message amended with the count held back)."""
        key = str(record.msg).split("\n", 1)[0]
        now = time.monotonic()
        if now - self.last.get(key, -self.interval) < self.interval:
            self.held[key] = self.held.get(key, 0) + 1
            return False
        self.last[key] = now
        held = self.held.pop(key, 0)
        if held:
            record.msg = f"{record.msg}\n({held} more like this in the last {self.interval:g} s)"
        return True
