"""The SQL route under attack: the corpus is refused, runaway queries are stopped, results
are capped, concurrency is bounded, and the server answers /health after each."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI

from projections._errors import QueryRefused
from projections._guard import MAX_BUILT, check_select
from tests.server.conftest import LiveServer, TestClient, envelope

ATTACKS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM 'file.csv'",
    "FROM 'file.csv'",
    "SELECT * FROM 'https://example.com/data.parquet'",
    "SELECT * FROM read_parquet('https://example.com/data.parquet')",
    "ATTACH '/tmp/other.db' AS other",
    "COPY (SELECT * FROM traces) TO '/tmp/out.csv'",
    "EXPORT DATABASE '/tmp/dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET memory_limit = '100GB'",
    "RESET memory_limit",
    "PRAGMA database_list",
    "CALL duckdb_settings()",
    "CREATE TABLE t AS SELECT 1",
    "CREATE MACRO m() AS 1",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE traces",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT current_setting('allowed_directories')",
    # names of Python variables in the server's own code: a replacement scan would read them
    "SELECT * FROM live",
    "SELECT * FROM models",
    "SELECT * FROM config",
    "SELECT * FROM app",
    "SELECT * FROM body",
    "SELECT * FROM cursor",
    "SELECT * FROM LIMITS",
]


@pytest.mark.parametrize("sql", ATTACKS)
def test_the_attack_corpus_is_refused_and_the_server_stays_healthy(
    client: TestClient, sql: str
) -> None:
    error = envelope(client.post("/v1/sql", json={"sql": sql}), 400)["error"]
    assert error["code"] in ("query_refused", "query_failed")
    assert error["hint"]
    assert envelope(client.get("/health"))["data"]["status"] == "ok"
    assert envelope(client.post("/v1/sql", json={"sql": "SELECT count(*) FROM traces"}))


def test_a_runaway_count_is_stopped_within_the_limit(client: TestClient) -> None:
    started = time.monotonic()
    response = client.post("/v1/sql", json={"sql": "SELECT count(*) FROM range(100000000000)"})
    elapsed = time.monotonic() - started
    error = envelope(response, 400)["error"]
    assert error["code"] == "query_failed"
    assert "time limit" in error["message"]
    # the server's own clock, from the query's start to its stop; the client's adds the trip
    assert error["elapsed"] <= 1.0 * 1.1, f"stopped after {error['elapsed']} s, limit 1 s"
    assert elapsed < 2, f"answered after {elapsed:.2f} s"
    assert envelope(client.get("/health"))


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT list(range(1000000000))", "query_refused"),  # one value built in one go
        ("SELECT len(range(10000000000))", "query_refused"),
        ("SELECT list(range) FROM range(1000000000)", "query_failed"),  # out of memory
        ("SELECT repeat('x', 2000000000)", "query_refused"),
        ("SELECT list_transform(range(1000), x -> range(1000))", "query_refused"),
    ],
)
def test_huge_lists_give_an_error_not_a_dead_server(
    client: TestClient, sql: str, code: str
) -> None:
    started = time.monotonic()
    error = envelope(client.post("/v1/sql", json={"sql": sql}), 400)["error"]
    assert error["code"] == code
    assert time.monotonic() - started < 5
    assert envelope(client.get("/health"))


def test_ten_million_rows_are_cut_at_the_cap(client: TestClient) -> None:
    started = time.monotonic()
    data = envelope(client.post("/v1/sql", json={"sql": "SELECT * FROM range(10000000)"}))["data"]
    assert (data["row_count"], data["truncated"]) == (1000, True)  # the server's max_rows
    assert data["rows"][-1] == [999]
    asked = envelope(
        client.post("/v1/sql", json={"sql": "SELECT * FROM range(10000000)", "max_rows": 5})
    )
    assert (asked["data"]["row_count"], asked["data"]["truncated"]) == (5, True)
    assert time.monotonic() - started < 5


def test_the_byte_cap_cuts_wide_rows(make_app: Callable[..., FastAPI]) -> None:
    with TestClient(make_app(max_bytes=100_000)) as client:
        sql = "SELECT repeat('x', 1000) AS wide FROM range(500)"
        data = envelope(client.post("/v1/sql", json={"sql": sql}))["data"]
        assert data["truncated"] is True
        assert 0 < data["row_count"] < 100


def test_slow_queries_beyond_the_bound_get_429(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(max_queries=4, sql_timeout=2.0)
    slow = {"sql": "SELECT count(*) FROM range(100000000000)"}

    def post(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            response = http.post("/v1/sql", json=slow)
            envelope(response, response.status_code)
            return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = Counter(pool.map(post, range(20)))
    assert statuses[429] >= 10, statuses
    assert 1 <= statuses[400] <= 4, statuses  # the ones that ran hit the time limit
    assert set(statuses) <= {400, 429}
    health = httpx.get(f"{server.url}/health", timeout=5)
    assert envelope(health)["data"]["status"] == "ok"
    assert envelope(httpx.post(f"{server.url}/v1/sql", json={"sql": "SELECT 1"}, timeout=5))


def test_a_429_names_the_bound(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(max_queries=1)
    app.state.slots.take()  # a query is running
    with TestClient(app) as client:
        error = envelope(client.post("/v1/sql", json={"sql": "SELECT 1"}), 429)["error"]
        assert (error["code"], error["limit"]) == ("too_many_queries", 1)
    app.state.slots.give()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT range(10)",
        "SELECT list(range(1000))",
        f"SELECT len(range({MAX_BUILT}))",
        "SELECT range(1, 100, 2), generate_series(-5, 5)",
        "SELECT repeat('ab', 3), repeat(range::VARCHAR, 3) FROM range(3)",
        "SELECT lpad(range::VARCHAR, 8, '0') FROM range(3)",
        "SELECT printf('%5d items', range), format('order 1234567 {:>10}', 'x') FROM range(3)",
        "SELECT list_transform([1, 2], x -> x + 1)",
        "SELECT count(*) FROM range(100000000000)",
    ],
)
def test_the_builders_guard_lets_bounded_sizes_through(sql: str) -> None:
    assert check_select(sql)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (f"SELECT range({MAX_BUILT + 1})", "range"),
        ("SELECT range(n) FROM (SELECT 5 AS n)", "range"),
        ("SELECT range(range) FROM range(3)", "range"),
        ("SELECT unnest(generate_series(1, 1e12))", "generate_series"),
        ("SELECT list_resize([1], 1e9)", "list_resize"),
        ("SELECT array_resize([1], n) FROM (SELECT 5 AS n)", "array_resize"),
        ("SELECT repeat(range::VARCHAR, 1000) FROM range(3)", "repeat"),
        ("SELECT lpad('x', 2000000000, 'y')", "lpad"),
        ("SELECT rpad(range::VARCHAR, 100000, 'y') FROM range(3)", "rpad"),
        ("SELECT printf('%1000000000d', 1)", "printf"),
        ("SELECT printf('%*d', 1000000000, 1)", "printf"),
        ("SELECT format('{:>{}}', 'x', 1000000000)", "format"),
        ("SELECT printf(x, 1) FROM (SELECT '%5d' AS x)", "printf"),
        ("SELECT list_transform([1, 2], x -> repeat('a', 10))", "repeat"),
    ],
)
def test_the_builders_guard_refuses_sizes_it_cannot_bound(sql: str, named: str) -> None:
    with pytest.raises(QueryRefused, match=named) as caught:
        check_select(sql)
    assert caught.value.hint
