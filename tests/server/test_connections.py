"""Hostile connections: idle sockets beyond the cap, beyond the file descriptors, a body
that never ends, a client that stops reading; the server closes them and /health answers."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from lakehouse.server import ServerConfig, create_app
from lakehouse.server._connections import ConnectionGuard
from tests.server.conftest import LIMITS, LiveServer, Seeded, TestClient, envelope

LAKEHOUSE = Path(sys.executable).with_name("lakehouse")


@contextmanager
def idle_sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections to `port` that never send a byte, closed at the end."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            opened[-1].setblocking(False)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def still_open(sockets: list[socket.socket]) -> list[socket.socket]:
    """The sockets the server has not closed (a closed one reads EOF or a reset)."""
    found = []
    for sock in sockets:
        try:
            if sock.recv(1024):
                found.append(sock)  # it answered something: open still
        except BlockingIOError:
            found.append(sock)
        except OSError:
            continue
    return found


def wait_closed(sockets: list[socket.socket], seconds: float) -> list[socket.socket]:
    """Poll until the server has closed every socket or `seconds` pass; those still open."""
    deadline = time.monotonic() + seconds
    remaining = still_open(sockets)
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = still_open(remaining)
    return remaining


def test_idle_sockets_beyond_the_cap_never_lock_out_health(
    live_server: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lakehouse.server")
    server = live_server(max_connections=20, client_timeout=2.0, log_interval=60)
    with idle_sockets(server.port, 60) as idle:
        health = httpx.get(f"{server.url}/health", timeout=5)  # a fresh connection
        assert envelope(health)["data"]["status"] == "ok"
        assert len(still_open(idle)) >= 10  # the newest idle ones are still open
        guard = server.server.guard
        assert guard.counts["evicted"] >= 40  # the oldest were closed to admit the newer
        assert wait_closed(idle, 2.0 + 3) == []  # the rest when their client timeout ends
        assert guard.counts["timed_out"] >= 10
        assert not guard.open  # nothing left counted
    lines = [r for r in caplog.records if r.getMessage().startswith("connections:")]
    assert len(lines) == 1, [r.getMessage() for r in lines]  # once per interval, not per socket
    assert "further ones are counted" in lines[0].getMessage()


def test_a_flood_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lakehouse.server")

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "lakehouse.server"]

    async def flood() -> None:
        guard = ConnectionGuard(
            1, client_timeout=1, keep_alive_timeout=1, log_interval=0.2, watermark=lambda: 0
        )
        for _ in range(100):
            guard.note("evicted")
        for _ in range(50):
            guard.note("timed_out")
        deadline = time.monotonic() + 5
        while len(said()) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        guard.note("refused")  # the interval after a busy one is counted too, not logged now
        assert len(said()) == 2

    asyncio.run(flood())
    assert said() == [
        "connections: closed 1 idle to admit new ones (at the cap of 1) "
        "(further ones are counted and logged every 0.2 s)",
        "connections: closed 99 idle to admit new ones (at the cap of 1); "
        "closed 50 that sent no whole request in time in the last 0.2 s",
    ]


def test_a_connection_refused_when_all_are_busy_gets_a_503_envelope(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(max_connections=2, client_timeout=5.0)
    with (
        httpx.Client(timeout=5) as first,
        httpx.Client(timeout=5) as second,
        first.stream("GET", f"{server.url}/v1/journal/stream") as one,
        second.stream("GET", f"{server.url}/v1/journal/stream") as two,
    ):
        assert (one.status_code, two.status_code) == (200, 200)  # both connections busy
        refused = httpx.get(f"{server.url}/health", timeout=5)
        error = envelope(refused, 503)["error"]
        assert (error["code"], error["limit"]) == ("too_many_connections", 2)
        assert error["hint"]
        assert server.server.guard.counts["refused"] == 1
    # the streams are closed: the server answers again
    deadline = time.monotonic() + 5
    while server.server.guard.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert envelope(httpx.get(f"{server.url}/health", timeout=5))["data"]["status"] == "ok"


def test_a_request_that_never_ends_is_closed(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(client_timeout=1.0)
    head = b"POST /v1/sql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    with idle_sockets(server.port, 2) as (partial_head, endless_body):
        partial_head.sendall(head)
        endless_body.sendall(head + b"content-length: 1000\r\n\r\n{")
        started = time.monotonic()
        assert wait_closed([partial_head, endless_body], 1.0 + 3) == []
        assert time.monotonic() - started >= 0.5  # by the timeout, not at once
    assert server.server.guard.counts["timed_out"] == 2
    assert envelope(httpx.get(f"{server.url}/health", timeout=5))


def test_a_client_that_stops_reading_is_dropped(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(client_timeout=1.0, max_rows=100_000)
    sql = b'{"sql": "SELECT repeat(\'x\', 1000) AS wide FROM range(30000)"}'  # about 30 MB
    with idle_sockets(server.port, 1) as (reader,):
        reader.sendall(
            b"POST /v1/sql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(sql), sql)
        )
        deadline = time.monotonic() + 10  # it is never read: the server's buffers fill
        while not server.server.guard.counts["stalled"] and time.monotonic() < deadline:
            time.sleep(0.05)
    assert server.server.guard.counts["stalled"] == 1
    assert server.app.state.results.held == 0  # the answer's memory is given back
    assert envelope(httpx.get(f"{server.url}/health", timeout=5))


# start the server with at most 512 descriptors (a wrapper, not preexec_fn: this process
# runs threads)
FEW_DESCRIPTORS = (
    "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512)); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def test_more_idle_sockets_than_descriptors_leave_health_answering(seeded: Seeded) -> None:
    """The issue's attack at a small scale: 800 idle sockets against a server that may open
    512 files (20,300 against the default limit took /health and 138 MB of log)."""
    command = [sys.executable, "-c", FEW_DESCRIPTORS, str(LAKEHOUSE), "--store", str(seeded.root)]
    command += ["serve", "--port", "0"]
    log = seeded.root.parent / "serve.log"
    with log.open("w+") as stderr:
        child = subprocess.Popen(command, stderr=stderr)
        try:
            url = _started(child, log)
            port = int(url.rsplit(":", 1)[1])
            with idle_sockets(port, 800):
                statuses = [httpx.get(f"{url}/health", timeout=3).status_code for _ in range(5)]
                assert statuses == [200] * 5
        finally:
            child.terminate()
            child.wait(timeout=10)
    said = log.read_text()
    assert re.search(r"at most \d+ connections, fewer than --max-connections 512", said), said
    assert len(said) < 5_000, said[:2_000]  # a line or two, not a line per socket
    assert "out of system resource" not in said


def _started(child: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.search(r"on (http://127\.0\.0\.1:\d+) ", log.read_text())
        if found:
            return found.group(1)
        assert child.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError(f"the server did not start: {log.read_text()}")


def _open_under(root: Path) -> list[str]:
    """The files of `root` this process holds open."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed while listing
        if target.startswith(str(root.resolve())):
            held.append(target)
    return held


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_stopped_server_lets_go_of_every_file_of_the_store(shared: Seeded) -> None:
    """Its read models pin checkpoint files open (projections.pin): stopping the server
    closes them, and its store, so servers started and stopped in one process (a test
    run, an embedding app) do not run out of descriptors."""
    before = len(_open_under(shared.root))
    app = create_app(ServerConfig(shared.root, **{**LIMITS, "watch": False}))
    with TestClient(app) as client:
        assert client.get("/v1/datasets").status_code == 200
        assert len(_open_under(shared.root)) > before
    assert len(_open_under(shared.root)) == before
