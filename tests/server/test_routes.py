"""Every route: its success envelope, its error envelope and the watermark header."""

from __future__ import annotations

import io
from collections.abc import Callable

import pyarrow as pa
import pyarrow.csv
import pytest
from fastapi import FastAPI

from tests.server.conftest import Seeded, TestClient, envelope


def test_health_reports_head_watermark_and_lag(client: TestClient, shared: Seeded) -> None:
    data = envelope(client.get("/health"))["data"]
    assert data == {
        "status": "ok",
        "head_seq": shared.head,
        "watermark": shared.head,
        "lag": 0,
        "watching": False,  # the in-process client's app has no watcher
        "error": None,
    }


def test_sql_gives_columns_rows_count_and_truncation(client: TestClient, shared: Seeded) -> None:
    body = envelope(
        client.post(
            "/v1/sql",
            json={
                "sql": "SELECT uid, rev FROM traces WHERE uid = ? OR uid = ? ORDER BY rev",
                "params": [shared.first, shared.late],
            },
        )
    )
    assert body["watermark"] == shared.head
    assert body["data"] == {
        "columns": [{"name": "uid", "type": "VARCHAR"}, {"name": "rev", "type": "BIGINT"}],
        "rows": [[shared.late, 1], [shared.first, 3]],
        "row_count": 2,
        "truncated": False,
    }
    capped = envelope(
        client.post("/v1/sql", json={"sql": "SELECT * FROM range(10)", "max_rows": 3})
    )
    assert (capped["data"]["row_count"], capped["data"]["truncated"]) == (3, True)


def test_sql_rows_keep_duplicate_column_names_and_odd_types(client: TestClient) -> None:
    sql = (
        "SELECT 1 AS a, 2 AS a, 1.5::DECIMAL(4,2) AS d, '\\x01'::BLOB AS b, "
        "170141183460469231731687303715884105727::HUGEINT AS h, [1, 2] AS l, {'k': 1} AS s, "
        "DATE '2026-01-02' AS day, INTERVAL 90 MINUTE AS i"
    )
    data = envelope(client.post("/v1/sql", json={"sql": sql}))["data"]
    assert [column["name"] for column in data["columns"]] == [
        "a",
        "a",
        "d",
        "b",
        "h",
        "l",
        "s",
        "day",
        "i",
    ]
    assert data["columns"][2:5] == [
        {"name": "d", "type": "DECIMAL(4,2)"},  # 15 digits or fewer: a number
        {"name": "b", "type": "BLOB"},
        {"name": "h", "type": "HUGEINT as text"},  # beyond 64 bits: the column is text
    ]
    row = data["rows"][0]
    assert row[:4] == [1, 2, 1.5, "AQ=="]
    assert row[4] == "170141183460469231731687303715884105727"
    assert row[5:] == [[1, 2], {"k": 1}, "2026-01-02", "PT1H30M"]


def test_sql_as_arrow_and_csv(client: TestClient, shared: Seeded) -> None:
    sql = {"sql": "SELECT uid, rev FROM traces ORDER BY created_seq"}
    arrow = client.post(
        "/v1/sql", json=sql, headers={"Accept": "application/vnd.apache.arrow.stream"}
    )
    assert arrow.status_code == 200
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert arrow.headers["x-lakehouse-watermark"] == str(shared.head)
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.column_names == ["uid", "rev"]
    assert table.num_rows == int(arrow.headers["x-lakehouse-row-count"]) == 4
    assert arrow.headers["x-lakehouse-truncated"] == "false"
    csv = client.post("/v1/sql", json=sql, headers={"Accept": "text/csv"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert (
        pyarrow.csv.read_csv(io.BytesIO(csv.content)).column("uid").to_pylist()
        == table.column("uid").to_pylist()
    )
    nested = client.post(
        "/v1/sql", json={"sql": "SELECT [1, 2] AS l"}, headers={"Accept": "text/csv"}
    )
    assert nested.content == b'"l"\n"[1,2]"\n'  # nested values as JSON text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"sql": "DROP TABLE traces"}, 400, "query_refused"),
        ({"sql": "SELECT no_such_column FROM traces"}, 400, "query_failed"),
        ({"sql": "SELECT ?", "params": []}, 400, "query_failed"),
        ({"sql": "SELECT 1", "bogus": 1}, 422, "invalid_request"),
        ({"sql": "SELECT 1", "max_rows": -1}, 422, "invalid_request"),
        ({"params": [1]}, 422, "invalid_request"),
    ],
)
def test_sql_errors_come_in_the_envelope(
    client: TestClient, body: dict[str, object], status: int, code: str
) -> None:
    error = envelope(client.post("/v1/sql", json=body), status)["error"]
    assert error["code"] == code


def test_sql_body_that_is_not_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/v1/sql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert envelope(response, 422)["error"]["code"] == "invalid_request"


def test_datasets_list_and_show(client: TestClient, shared: Seeded) -> None:
    listed = envelope(client.get("/v1/datasets"))["data"]["datasets"]
    assert [dataset["name"] for dataset in listed] == ["staff"]
    assert [column["name"] for column in listed[0]["schema"]] == ["name", "city"]  # decoded JSON
    shown = envelope(client.get("/v1/datasets/staff"))["data"]
    assert (shown["name"], shown["rows"], shown["dropped"]) == ("staff", 2, False)
    missing = envelope(client.get("/v1/datasets/nope"), 404)["error"]
    assert missing == {
        "code": "not_found",
        "message": "no dataset 'nope'",
        "hint": "list them with GET /v1/datasets",
        "entity": "dataset",
        "id": "nope",
    }


def test_trace_get_and_history(client: TestClient, shared: Seeded) -> None:
    trace = envelope(client.get(f"/v1/traces/{shared.revised}"))["data"]
    assert (trace["uid"], trace["text"], trace["predecessor"]) == (
        shared.revised,
        "refunds: the 2026 policy",
        shared.first,
    )
    old = envelope(client.get(f"/v1/traces/{shared.first}"))["data"]
    assert (old["rev"], old["successor"]) == (3, shared.revised)  # revised: rev 3
    history = envelope(client.get(f"/v1/traces/{shared.revised}/history"))["data"]
    assert [link["uid"] for link in history["chain"]] == [shared.revised, shared.first]
    assert history["problems"] == []
    for path in ("/v1/traces/trc_nope", "/v1/traces/trc_nope/history"):
        assert envelope(client.get(path), 404)["error"]["code"] == "not_found"


def test_trace_search(client: TestClient, shared: Seeded) -> None:
    hits = envelope(client.get("/v1/traces/search", params={"q": "refund policy", "k": 2}))["data"][
        "hits"
    ]
    assert hits[0]["uid"] == shared.revised
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and all(-1 <= score <= 1 for score in scores)
    assert shared.retired not in [hit["uid"] for hit in hits]
    everything = client.get(
        "/v1/traces/search", params={"q": "old shipping rule", "include_retired": "true"}
    )
    assert envelope(everything)["data"]["hits"][0]["uid"] == shared.retired
    tagged = client.get("/v1/traces/search", params={"q": "invoices", "tag": "billing"})
    assert [hit["uid"] for hit in envelope(tagged)["data"]["hits"]] == [shared.late]
    blank = client.get("/v1/traces/search", params={"q": " \x1f "})
    assert envelope(blank)["data"]["hits"] == []
    assert (
        envelope(client.get("/v1/traces/search", params={"q": "x", "k": 0}), 422)["error"]["code"]
        == "invalid_request"
    )
    assert envelope(client.get("/v1/traces/search"), 422)["error"]["errors"][0]["loc"] == [
        "query",
        "q",
    ]


def test_playbook_search(client: TestClient, shared: Seeded) -> None:
    hits = envelope(client.get("/v1/playbooks/search", params={"q": "approve refunds"}))["data"][
        "hits"
    ]
    assert [hit["id"] for hit in hits] == [shared.playbook]
    assert hits[0]["endorsed"] == ["Ada"]
    assert envelope(client.get("/v1/playbooks/search", params={"q": "x", "k": 1001}), 422)


def test_session_show(client: TestClient) -> None:
    data = envelope(client.get("/v1/sessions/s-1"))["data"]
    assert (data["id"], data["outcome"], data["attempt_count"], data["timings"]) == (
        "s-1",
        "success",
        2,
        {"total_s": 1.5},
    )
    assert [attempt["raw"] for attempt in data["attempts"]] == ["Ada", "Grace"]
    assert envelope(client.get("/v1/sessions/s-2"), 404)["error"]["code"] == "not_found"


def test_journal_pages_up_to_the_watermark(client: TestClient, shared: Seeded) -> None:
    first = envelope(client.get("/v1/journal", params={"after": 0, "limit": 3}))["data"]
    assert [record["seq"] for record in first["records"]] == [1, 2, 3]
    assert (first["next"], first["gap"], first["checkpoint"], first["findings"]) == (
        3,
        False,
        None,
        [],
    )
    rest = envelope(client.get("/v1/journal", params={"after": first["next"], "limit": 10_000}))[
        "data"
    ]
    assert rest["records"][-1]["seq"] == shared.head
    assert rest["next"] == shared.head
    done = envelope(client.get("/v1/journal", params={"after": shared.head}))["data"]
    assert (done["records"], done["next"]) == ([], shared.head)
    assert envelope(client.get("/v1/journal", params={"after": -1}), 422)
    assert envelope(client.get("/v1/journal", params={"limit": 10_001}), 422)


def test_journal_gap_names_the_covering_checkpoint(
    make_app: Callable[..., FastAPI], seeded: Seeded
) -> None:
    from lakehouse import Store

    with Store.open(seeded.root, checkpoint_every=0) as store:
        store.journal.roll()
        store.traces.add(text="after the roll")
        covering = store.checkpoint().seq
        archived = store.journal.archive(upto=covering)
        assert archived
    with TestClient(make_app()) as client:
        data = envelope(client.get("/v1/journal", params={"after": 0}))["data"]
        assert data["gap"] is True
        assert data["first_seq"] == data["records"][0]["seq"] > 1
        assert data["checkpoint"]["seq"] == covering
        whole = envelope(client.get("/v1/journal", params={"after": 0, "archived": "true"}))["data"]
        assert (whole["gap"], whole["records"][0]["seq"]) == (False, 1)


def test_journal_stream_with_a_limit_ends(client: TestClient, shared: Seeded) -> None:
    response = client.get("/v1/journal/stream", params={"after": shared.head - 2, "limit": 2})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-lakehouse-watermark"] == str(shared.head)
    events = [block for block in response.text.split("\n\n") if block]
    assert [block.splitlines()[0] for block in events] == [
        f"id: {shared.head - 1}",
        f"id: {shared.head}",
    ]
    assert all(block.splitlines()[1] == "event: record" for block in events)
    assert envelope(client.get("/v1/journal/stream", params={"limit": 0}), 422)


@pytest.mark.parametrize(
    "path",
    [
        "/health",
        "/v1/datasets",
        "/v1/datasets/staff",
        "/v1/journal",
        "/v1/traces/search?q=refund",
        "/v1/sessions/s-1",
    ],
)
def test_min_seq_reached_or_503(client: TestClient, shared: Seeded, path: str) -> None:
    joiner = "&" if "?" in path else "?"
    reached = client.get(f"{path}{joiner}min_seq={shared.head}")
    assert envelope(reached)["watermark"] == shared.head
    assert envelope(client.get(f"{path}{joiner}min_seq=-1"), 422)


def test_min_seq_beyond_the_head_is_a_503_with_the_watermark(
    make_app: Callable[..., FastAPI], seeded: Seeded
) -> None:
    with TestClient(make_app(min_seq_wait=0.2)) as client:
        error = envelope(client.get(f"/v1/datasets?min_seq={seeded.head + 5}"), 503)
        assert error["watermark"] == seeded.head
        assert error["error"]["code"] == "not_caught_up"
        assert (error["error"]["min_seq"], error["error"]["head_seq"]) == (
            seeded.head + 5,
            seeded.head,
        )


def test_unknown_routes_and_methods_use_the_envelope(client: TestClient) -> None:
    assert envelope(client.get("/v2/nothing"), 404)["error"]["code"] == "route_not_found"
    wrong = client.delete("/v1/datasets")
    assert envelope(wrong, 405)["error"]["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET"
    assert envelope(client.get("/v1/sql"), 405)


def test_a_status_starlette_raises_keeps_its_status_in_the_envelope(
    make_app: Callable[..., FastAPI],
) -> None:
    from starlette.exceptions import HTTPException

    app = make_app()

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout")

    with TestClient(app) as client:
        error = envelope(client.get("/teapot"), 418)["error"]
        assert (error["code"], error["message"], error["status"]) == (
            "http_error",
            "short and stout",
            418,
        )


def test_the_body_cap_answers_413_before_reading_on(make_app: Callable[..., FastAPI]) -> None:
    with TestClient(make_app(max_body_bytes=1000)) as client:
        big = {"sql": "SELECT '" + "x" * 2000 + "'"}
        assert envelope(client.post("/v1/sql", json=big), 413)["error"]["code"] == "body_too_large"

        def chunks():  # no Content-Length: the cap counts what arrives
            for _ in range(10):
                yield b" " * 500

        streamed = client.post(
            "/v1/sql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert envelope(streamed, 413)["error"]["limit"] == 1000
        assert envelope(client.post("/v1/sql", json={"sql": "SELECT 1"}))


def test_an_unexpected_exception_is_a_500_envelope(
    make_app: Callable[..., FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.httpkit import _reading

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_reading, "search_rows", broken)
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        error = envelope(client.get("/v1/traces/search?q=x"), 500)["error"]
        assert error["code"] == "internal_error"
        assert "RuntimeError" in error["message"]
        assert "boom" not in error["message"]  # no internals in the body; the log has them
        assert envelope(client.get("/health"))


@pytest.mark.parametrize(
    "query",
    ["min_seq=0.0", "min_seq=1e3", "after=1.5", "limit=10.0", "archived=yes", "archived=1"],
)
def test_parameters_are_as_exact_as_their_description(client: TestClient, query: str) -> None:
    error = envelope(client.get(f"/v1/journal?{query}"), 422)["error"]
    assert error["code"] == "invalid_request"
    assert error["errors"][0]["loc"][0] == "query"


def test_max_rows_must_be_a_whole_number(client: TestClient) -> None:
    body = {"sql": "SELECT 1", "max_rows": 1.0}
    assert envelope(client.post("/v1/sql", json=body), 422)["error"]["code"] == "invalid_request"
