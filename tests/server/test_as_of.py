"""`as_of=N` on every HTTP read: the answer a server gave when the journal ended at seq N,
with N as its watermark, whatever came after (checkpoints, archived segments); N beyond
the head is a 400; `min_seq` still waits first; the reads as of a past seq are bounded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from lakehouse import Store
from lakehouse.server import ServerConfig, create_app
from tests.server.conftest import LIMITS, TestClient, envelope, session

PAD = "x" * 300  # small segments fill fast: there are some to archive


def reads(uid: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every data route, as (method, path, body)."""
    return [
        ("GET", "/v1/datasets", None),
        ("GET", "/v1/datasets/staff", None),
        ("GET", f"/v1/traces/{uid}", None),
        ("GET", f"/v1/traces/{uid}/history", None),
        ("GET", "/v1/traces/search?q=refund+policy&include_retired=true", None),
        ("GET", "/v1/playbooks/search?q=who+approves+refunds", None),
        ("GET", "/v1/sessions/s-1", None),
        ("POST", "/v1/sql", {"sql": "SELECT uid, rev, text FROM traces ORDER BY uid"}),
        ("GET", "/v1/journal?after=0&limit=10000", None),
    ]


def app_for(root: Path, **changes: Any) -> FastAPI:
    return create_app(ServerConfig(root, **{**LIMITS, "watch": False, **changes}))


def answers(client: TestClient, uid: str, as_of: int | None = None) -> list[tuple[int, Any]]:
    """Each route's status and body (as of `as_of`, if given)."""
    got = []
    for method, path, body in reads(uid):
        joiner = "&" if "?" in path else "?"
        target = path if as_of is None else f"{path}{joiner}as_of={as_of}"
        response = client.request(method, target, json=body)
        status = response.status_code
        got.append((status, envelope(response, status)))
    return got


def fresh(root: Path, uid: str) -> list[tuple[int, Any]]:
    """What a server started now gives at the journal's head."""
    with TestClient(app_for(root)) as client:
        return answers(client, uid)


class Grown:
    """A store read by a fresh server at two seqs, then grown past them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        options: dict[str, Any] = {"segment_bytes": 4096, "checkpoint_every": 0}
        with Store.open(root, create=True, durability="none", **options) as store:
            self.uid = store.traces.add(text=f"refund policy {PAD}", tags=["support"]).id
            csv = root.parent / "staff.csv"
            csv.write_text("name,city\nAda,London\n")
            store.datasets.ingest("staff", csv)
            self.early = store.journal.head_seq or 0  # no checkpoint yet, no session
            self.then = {"early": fresh(root, self.uid)}
            store.traces.update(self.uid, text=f"refund policy, v2 {PAD}")
            store.sessions.record(session("s-1"))
            store.playbooks.record(query="who approves refunds", endorsed=["Ada"], target_count=1)
            store.checkpoint()
            store.traces.add(text=f"late addition {PAD}")
            self.middle = store.journal.head_seq or 0  # a checkpoint, and records after it
            self.then["middle"] = fresh(root, self.uid)
            revised = store.traces.revise(self.uid, text=f"refunds: the 2026 policy {PAD}")
            store.traces.retire(revised.id, reason="obsolete")
            csv.write_text("name,city\nAda,London\nGrace,New York\n")
            store.datasets.ingest("staff", csv, mode="replace")
            store.datasets.drop("staff")
            store.journal.archive(upto=store.checkpoint().seq)
            self.first_live = store.journal.segments()[0][0].first_seq
            store.traces.add(text=f"later still {PAD}")
            self.head = store.journal.head_seq or 0


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Grown:
    return Grown(tmp_path_factory.mktemp("as-of") / "store")


@pytest.fixture(scope="module")
def client(grown: Grown) -> Iterator[TestClient]:
    with TestClient(app_for(grown.root)) as test_client:
        yield test_client


@pytest.mark.parametrize("when", ["early", "middle"])
def test_as_of_gives_what_the_server_gave_at_that_seq(
    client: TestClient, grown: Grown, when: str
) -> None:
    assert grown.first_live > grown.early  # its records are in archived segments now
    seq = {"early": grown.early, "middle": grown.middle}[when]
    now = answers(client, grown.uid, as_of=seq)
    assert now == grown.then[when]
    assert {body["watermark"] for _, body in now} == {seq}
    assert answers(client, grown.uid) != now  # the store did change since


def test_as_of_the_served_watermark_or_beyond_the_head(client: TestClient, grown: Grown) -> None:
    served = envelope(client.get(f"/v1/traces/{grown.uid}"))
    assert envelope(client.get(f"/v1/traces/{grown.uid}?as_of={grown.head}")) == served
    beyond = grown.head + 1
    for method, path, body in [*reads(grown.uid), ("GET", "/v1/journal/stream", None)]:
        joiner = "&" if "?" in path else "?"
        response = client.request(method, f"{path}{joiner}as_of={beyond}", json=body)
        error = envelope(response, 400)["error"]
        assert (error["code"], error["as_of"], error["head_seq"]) == (
            "as_of_beyond_head",
            beyond,
            grown.head,
        )
        assert "min_seq" in error["hint"]
    assert envelope(client.get(f"/v1/datasets?as_of={-1}"), 422)


def test_min_seq_waits_before_an_as_of_read(grown: Grown) -> None:
    with TestClient(app_for(grown.root, min_seq_wait=0.05)) as client:
        late = grown.head + 1
        error = envelope(client.get(f"/v1/datasets?min_seq={late}&as_of={late}"), 503)["error"]
        assert error["code"] == "not_caught_up"
        both = envelope(client.get(f"/v1/datasets?min_seq={grown.head}&as_of={grown.early}"))
        assert both["watermark"] == grown.early


def test_the_stream_as_of_a_seq_ends_there(client: TestClient, grown: Grown) -> None:
    response = client.get(f"/v1/journal/stream?after=0&as_of={grown.early}")  # archived: read
    assert response.headers["x-lakehouse-watermark"] == str(grown.early)
    ids = [int(line[4:]) for line in response.text.splitlines() if line.startswith("id: ")]
    assert ids == list(range(1, grown.early + 1))


def test_reads_as_of_a_past_seq_are_bounded_and_close_what_they_open(grown: Grown) -> None:
    app = app_for(grown.root, max_queries=1)
    with TestClient(app) as client:
        target = f"/v1/traces/{grown.uid}?as_of={grown.middle}"
        assert envelope(client.get(target))  # once: what a read opens stays open if any
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            assert envelope(client.get(target))["watermark"] == grown.middle
        assert len(os.listdir("/proc/self/fd")) <= before
        slots = app.state.as_of._free  # another as_of read holds the only slot
        slots.acquire()
        try:
            error = envelope(client.get(target), 429)["error"]
            assert (error["code"], error["limit"]) == ("too_many_queries", 1)
            assert envelope(client.get(f"/v1/traces/{grown.uid}"))  # the current: no slot
        finally:
            slots.release()
