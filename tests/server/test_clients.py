"""The endpoint as HTTP clients expect it: Retry-After on every 429 and 503, 406 for an
Accept no route can give, Last-Event-ID resuming the event stream, and one access-log line
per request (as_of reads: test_as_of.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from lakehouse.server import get
from tests.server.conftest import Seeded, TestClient, envelope

ROUTES = [  # every route, as (method, path, body)
    ("GET", "/health", None),
    ("GET", "/v1/datasets", None),
    ("GET", "/v1/datasets/staff", None),
    ("GET", "/v1/traces/search?q=refund", None),
    ("GET", "/v1/traces/{first}", None),
    ("GET", "/v1/traces/{revised}/history", None),
    ("GET", "/v1/playbooks/search?q=refunds", None),
    ("GET", "/v1/sessions/s-1", None),
    ("GET", "/v1/journal", None),
    ("POST", "/v1/sql", {"sql": "SELECT 1 AS one"}),
]


def _path(path: str, seeded: Seeded) -> str:
    return path.format(first=seeded.first, revised=seeded.revised)


def test_every_429_and_503_says_when_to_retry(
    make_app: Callable[..., FastAPI], seeded: Seeded
) -> None:
    app = make_app(max_queries=1, min_seq_wait=0.05)
    with TestClient(app) as client:
        app.state.slots.take()  # a query is running
        busy = client.post("/v1/sql", json={"sql": "SELECT 1"})
        assert envelope(busy, 429)["error"]["code"] == "too_many_queries"
        app.state.slots.give()
        results = app.state.results
        assert results.take(results.size)  # answers in flight hold the result memory
        wide = client.post("/v1/sql", json={"sql": "SELECT 42 AS n"})
        assert envelope(wide, 429)["error"]["code"] == "result_memory_busy"
        results.give(results.size)
        for method, path, body in ROUTES:  # min_seq never reached: every route's 503
            joiner = "&" if "?" in path else "?"
            late = f"{_path(path, seeded)}{joiner}min_seq={seeded.head + 1}"
            late_answer = client.request(method, late, json=body)
            assert envelope(late_answer, 503)["error"]["code"] == "not_caught_up"
        for response in (busy, wide, late_answer):
            assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    "accept",
    ["text/html", "application/xml, text/plain;q=0.5", "application/json;q=0, */*;q=0", "image/*"],
)
def test_an_accept_no_route_can_give_is_a_406(
    client: TestClient, shared: Seeded, accept: str
) -> None:
    for method, path, body in [*ROUTES, ("GET", "/v1/journal/stream?limit=1", None)]:
        response = client.request(
            method, _path(path, shared), json=body, headers={"Accept": accept}
        )
        error = envelope(response, 406)["error"]
        assert error["code"] == "format_unsupported"
        assert error["accept"] == accept
        assert error["hint"].startswith(f"send Accept: {error['offered'][0]} (or */*)")


@pytest.mark.parametrize(
    ("accept", "given"),
    [
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/html, application/json;q=0.1", "application/json"),
        ("text/csv, application/json", "text/csv"),  # the first named, at equal q
        ("application/json;q=0.5, text/csv", "text/csv"),  # the higher q
        ("text/*", "text/csv"),
        ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.stream"),
        ("application/*, application/json;q=0", "application/vnd.apache.arrow.stream"),
    ],
)
def test_an_accept_the_server_can_give_is_honoured(
    client: TestClient, accept: str, given: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    sql = client.post("/v1/sql", json={"sql": "SELECT 1 AS one"}, headers=headers)
    assert sql.status_code == 200
    assert sql.headers["content-type"].split(";")[0] == given
    if given == "application/json":
        assert envelope(client.get("/v1/datasets", headers=headers))
    stream = client.get("/v1/journal/stream?limit=1", headers={"Accept": "text/event-stream"})
    assert stream.headers["content-type"].startswith("text/event-stream")


def _ids(text: str) -> list[int]:
    return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]


def test_last_event_id_resumes_the_stream_after_it(client: TestClient, shared: Seeded) -> None:
    whole = client.get("/v1/journal/stream", params={"limit": shared.head})
    seqs = _ids(whole.text)
    assert seqs == list(range(1, shared.head + 1))
    seen = seqs[len(seqs) // 2]  # the client saw up to here, then the connection dropped
    rest = seqs[seqs.index(seen) + 1 :]
    resumed = client.get(
        "/v1/journal/stream",
        params={"after": 0, "limit": len(rest)},  # the URL it first opened, as EventSource
        headers={"Last-Event-ID": str(seen)},
    )
    assert resumed.status_code == 200
    assert _ids(resumed.text) == rest
    for bad in ("abc", "-1", "1.5"):
        response = client.get("/v1/journal/stream", headers={"Last-Event-ID": bad})
        error = envelope(response, 422)["error"]
        assert error["errors"][0]["loc"] == ["header", "Last-Event-ID"]


ACCESS = re.compile(r"(\S+) (\S+) (\d{3}) (\d+\.\d)ms watermark=(\d+)")


def test_one_access_log_line_per_request_without_the_token(
    make_app: Callable[..., FastAPI], seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    token = "access-log-token-0123456789abcdef"
    auth = {"Authorization": f"Bearer {token}"}
    asked = [  # (method, path as requested, body, headers, status)
        ("GET", "/health", None, {}, 200),
        ("GET", f"/v1/traces/{seeded.first}?min_seq=1", None, auth, 200),
        ("POST", "/v1/sql", {"sql": f"SELECT '{token}'"}, auth, 200),
        ("GET", "/v1/datasets", None, {"Authorization": "Bearer wrong-0123456789abcdef"}, 401),
        ("GET", "/v1/nothing%0Aforged%20200", None, auth, 404),
    ]
    with (
        TestClient(make_app(token=token.encode())) as client,
        caplog.at_level(logging.INFO, logger="lakehouse.server.access"),
    ):
        for method, path, body, headers, status in asked:
            assert client.request(method, path, json=body, headers=headers).status_code == status
        status, _, _ = get(client.app, "/v1/a\nb c")  # in-process: bytes no socket takes
        assert status == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "lakehouse.server.access"]
    assert lines.pop().startswith("GET /v1/a\\x0ab\\x20c 401 ")  # escaped: still one line
    assert len(lines) == len(asked), lines
    for line, (method, path, _, _, status) in zip(lines, asked, strict=True):
        found = ACCESS.fullmatch(line)
        assert found, line
        assert found.group(1, 3, 5) == (method, str(status), str(seeded.head))
        assert found.group(2) == path.split("?")[0]  # as sent, percent-encoded
    assert lines[-1].startswith("GET /v1/nothing%0Aforged%20200 404 ")  # one line
    assert token not in caplog.text
