"""Fixtures for the query endpoint: a seeded store, apps with small limits, live servers."""

from __future__ import annotations

import copy as copy_module
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from journal import Journal
from lakehouse import Store
from lakehouse.server import ServerConfig, create_app, make_server

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 package; httpx (a dev dependency) still works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

# limits small enough for tests to reach quickly
LIMITS: dict[str, Any] = {
    "sql_timeout": 1.0,
    "max_rows": 1000,
    "max_queries": 4,
    "min_seq_wait": 5.0,
    "memory_limit": "256MB",
}


def session(sid: str = "s-1") -> dict[str, Any]:
    """A whole session as `store.sessions.record` takes it, with two attempts."""
    return {
        "id": sid,
        "model": "gpt-x",
        "attempts": [
            {"prompt": "who?", "raw": "Ada", "verdict": "rejected: 1 inactive"},
            {"prompt": "who now?", "raw": "Grace", "verdict": "ok"},
        ],
        "outcome": "success",
        "grounded_in_roster": True,
        "timings": {"total_s": 1.5},
    }


class Seeded:
    """What the seeded store holds, by name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with Store.open(root, checkpoint_every=0) as store:
            self.first = store.traces.add(text="refund policy for late orders", tags=["support"]).id
            store.traces.update(self.first, text="refund policy for late orders, v2")
            self.revised = store.traces.revise(self.first, text="refunds: the 2026 policy").id
            self.retired = store.traces.add(text="an old shipping rule", tags=["ops"]).id
            store.traces.retire(self.retired, reason="obsolete")
            store.sessions.record(session("s-1"))
            self.playbook = store.playbooks.record(
                query="who can approve refunds", endorsed=["Ada"], target_count=1
            ).id
            csv = root.parent / "staff.csv"
            csv.write_text("name,city\nAda,London\nGrace,New York\n")
            store.datasets.ingest("staff", csv)
            self.checkpoint = store.checkpoint().seq
            # records after the checkpoint: the read models merge both
            self.late = store.traces.add(text="late addition about invoices", tags=["billing"]).id
            self.head = store.journal.head_seq or 0


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The seeded store, built once per test session: only for tests that never write."""
    root = tmp_path_factory.mktemp("seeded") / "store"
    Journal.open(root, create=True).close()
    return Seeded(root)


@pytest.fixture
def seeded(shared: Seeded, store: Path) -> Seeded:
    """A copy of a store with traces (updated, revised, retired), a session, a playbook and a
    dataset, checkpointed, and one trace after the checkpoint."""
    shutil.rmtree(store)
    shutil.copytree(shared.root, store)
    copy = copy_module.copy(shared)
    copy.root = store
    return copy


@pytest.fixture
def make_app(seeded: Seeded) -> Callable[..., FastAPI]:
    """An app over the seeded store (no watcher; `min_seq` refreshes), limits overridable."""

    def make(**changes: Any) -> FastAPI:
        options = {**LIMITS, "watch": False, **changes}
        return create_app(ServerConfig(seeded.root, **options))

    return make


@pytest.fixture(scope="module")
def client(shared: Seeded) -> Iterator[TestClient]:
    """An in-process client of an app over the shared seeded store (requests only read)."""
    app = create_app(ServerConfig(shared.root, **{**LIMITS, "watch": False}))
    with TestClient(app) as test_client:
        yield test_client


class LiveServer:
    """uvicorn serving an app on a free loopback port, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.port = sock.getsockname()[1]
        self.server = make_server(app)  # what `lakehouse serve` runs
        self.server.config.timeout_graceful_shutdown = 1
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving (event streams end at once) and wait for the thread."""
        self.app.state.live.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(seeded: Seeded) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers (watcher on) over the seeded store; all stopped at the end."""
    started: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        config = ServerConfig(seeded.root, **{**LIMITS, **changes})
        server = LiveServer(create_app(config))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def envelope(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The response's envelope, after checking status, shape and the watermark header."""
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert body["status"] == status
    assert body["ok"] is (status == 200)
    assert isinstance(body["watermark"], int)
    assert response.headers["x-lakehouse-watermark"] == str(body["watermark"])
    if status in (429, 503):  # busy, or not there yet: when to come back
        assert response.headers["retry-after"].isdigit()
    else:
        assert "retry-after" not in response.headers
    if status == 200:
        assert set(body) == {"ok", "status", "watermark", "data"}
    else:
        assert set(body) == {"ok", "status", "watermark", "error"}
        assert {"code", "message", "hint"} <= set(body["error"])
        assert body["error"]["message"]
    return body
