"""The read-only SQL layer: an attack corpus for the guard, the lockdown, and the runner."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from projections._errors import QueryFailed, QueryRefused
from projections._guard import (
    DENIED_FUNCTIONS,
    SAFE_INTERNAL_VIEWS,
    SAFE_TABLE_FUNCTIONS,
    check_select,
)
from projections._sql import QueryResult, _bytes, connect, run

# A Python variable a replacement scan would find: `run` must never return its rows.
some_python_variable = pa.table({"secret": ["do not read me"]})

ATTACKS = [
    # (sql, what the message must name)
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM Read_CSV('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
    ("SELECT * FROM read_json('/etc/x.json')", "read_json"),
    ("SELECT * FROM read_text('/etc/passwd')", "read_text"),
    ("SELECT * FROM read_blob('/etc/passwd')", "read_blob"),
    ("SELECT * FROM glob('*')", "glob"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv"),
    ("SELECT * FROM parquet_metadata('/tmp/x.parquet')", "parquet_metadata"),
    ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "read_parquet"),
    ("SELECT * FROM system.main.read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM '/etc/passwd'", "/etc/passwd"),
    ("SELECT * FROM 'file.csv'", "file.csv"),
    ('SELECT * FROM "file.csv"', "file.csv"),
    ("FROM 'https://example.com/x.parquet'", "https://example.com/x.parquet"),
    ("SELECT * FROM x.csv", "x.csv"),
    ("SELECT * FROM main.csv", "main.csv"),
    ("SELECT * FROM information_schema.csv", "information_schema.csv"),
    ("DESCRIBE 'file.csv'", "file.csv"),
    ("SUMMARIZE SELECT * FROM '/etc/passwd'", "/etc/passwd"),
    ("ATTACH '/tmp/other.db'", "ATTACH"),
    ("DETACH DATABASE memory", "DETACH"),
    ("COPY (SELECT 1) TO 'x.csv'", "COPY"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
    ("IMPORT DATABASE '/tmp/dump'", "IMPORT DATABASE"),
    ("INSTALL httpfs", "INSTALL httpfs"),
    ("LOAD httpfs", "LOAD"),
    ("SET memory_limit='10GB'", "SET"),
    ("RESET threads", "RESET threads"),
    ("PRAGMA version", "PRAGMA"),
    ("CALL duckdb_settings()", "CALL"),
    ("CREATE TABLE t (a INTEGER)", "CREATE"),
    ("CREATE SECRET (TYPE s3)", "CREATE"),
    ("INSERT INTO t VALUES (1)", "INSERT"),
    ("UPDATE t SET a = 1", "UPDATE"),
    ("DELETE FROM t", "DELETE"),
    ("DROP TABLE t", "DROP"),
    ("ALTER TABLE t ADD COLUMN b INTEGER", "ALTER"),
    ("USE memory", "USE memory"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("VACUUM", "VACUUM"),
    ("BEGIN", "TRANSACTION"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN"),
    ("UPDATE EXTENSIONS", "UPDATE EXTENSIONS"),
    ("SELECT 1; SELECT 2", "2 statements"),
    ("SELECT 1; DROP TABLE t", "2 statements"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
    ("SELECT * FROM duckdb_secrets()", "duckdb_secrets"),
    ("SELECT * FROM duckdb_extensions()", "duckdb_extensions"),
    ("SELECT * FROM duckdb_databases()", "duckdb_databases"),
    ("SELECT * FROM pragma_version()", "pragma_version"),
    ("SELECT * FROM query('SELECT 1')", "query"),
    ("SELECT * FROM query_table('t')", "query_table"),
    ("SELECT * FROM duckdb_profiling_settings()", "duckdb_profiling_settings"),
    ("SELECT * FROM pg_settings", "pg_settings"),
    ("SELECT * FROM pg_catalog.pg_settings", "pg_catalog.pg_settings"),
    ("SELECT * FROM duckdb_databases", "duckdb_databases"),
    ("SELECT * FROM pragma_database_list", "pragma_database_list"),
    ("SHOW memory_limit", "memory_limit"),
    ("SHOW DATABASES", "databases"),
    ("SELECT current_setting('memory_limit')", "current_setting"),
    ("SELECT 'memory_limit'.current_setting()", "current_setting"),
    ("SELECT getvariable('x')", "getvariable"),
    (
        "SELECT json_serialize_plan('SELECT * FROM read_csv(''/etc/passwd'')')",
        "json_serialize_plan",
    ),
    ("SELECT sleep_ms(100000)", "sleep_ms"),
    ("SELECT * FROM range(3) WHERE current_setting('threads') = '2'", "current_setting"),
    ("WITH a AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM a", "read_csv"),
    ("SELECT * FROM (SELECT * FROM (SELECT * FROM read_csv('/etc/passwd')))", "read_csv"),
    ("SELECT (SELECT count(*) FROM glob('/*'))", "glob"),
    ("SELECT * FROM range(3) r WHERE r.range IN (FROM '/etc/passwd')", "/etc/passwd"),
    ("SELECT * FROM range(3) UNION ALL SELECT * FROM read_text('/etc/passwd')", "read_text"),
    ("SELECT 1 /* ; DROP TABLE t */; DROP TABLE t", "2 statements"),
    ("SELEC 1", "does not parse"),
    ("", "empty"),
    ("  ;  -- nothing here", "empty"),
]


@pytest.mark.parametrize(("sql", "named"), ATTACKS)
def test_check_select_refuses_the_attack_corpus(sql: str, named: str) -> None:
    with pytest.raises(QueryRefused) as caught:
        check_select(sql)
    error = caught.value
    assert named.lower() in error.message.lower()
    assert error.hint
    assert error.fields
    assert error.exit_code == 3
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("sql", "normalised"),
    [
        ("  SELECT 1  ", "SELECT 1"),
        ("SELECT 1;", "SELECT 1"),
        ("SELECT 1 ;; \n", "SELECT 1"),
        ("SELECT 1; -- a comment", "SELECT 1"),
        ("SELECT 1 /* ; DROP */", "SELECT 1"),
        ("SELECT ';' AS semi;", "SELECT ';' AS semi"),
        ("SELECT 'é' ; /* x */ ", "SELECT 'é'"),
        ("WITH t AS (SELECT 1 AS a) SELECT a FROM t", "WITH t AS (SELECT 1 AS a) SELECT a FROM t"),
        ("SELECT 1 UNION SELECT 2", "SELECT 1 UNION SELECT 2"),
        ("FROM range(3) SELECT range", "FROM range(3) SELECT range"),
        ("VALUES (1), (2)", "VALUES (1), (2)"),
        ("SELECT * FROM information_schema.tables", "SELECT * FROM information_schema.tables"),
        ("SELECT * FROM duckdb_columns", "SELECT * FROM duckdb_columns"),
        ("SHOW TABLES", "SHOW TABLES"),
        ("DESCRIBE traces", "DESCRIBE traces"),
        ("SELECT x FROM unnest([1, 2]) t(x)", "SELECT x FROM unnest([1, 2]) t(x)"),
        ("SELECT * FROM traces WHERE id = ?", "SELECT * FROM traces WHERE id = ?"),
    ],
)
def test_check_select_accepts_and_normalises_read_only_selects(sql: str, normalised: str) -> None:
    assert check_select(sql) == normalised


def test_every_table_function_off_the_allowlist_is_refused() -> None:
    con = duckdb.connect()
    names = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type IN ('table', 'table_macro')"
        ).fetchall()
    }
    assert names >= SAFE_TABLE_FUNCTIONS  # no typo in the allowlist
    for name in sorted(names - SAFE_TABLE_FUNCTIONS):
        with pytest.raises(QueryRefused, match=name):
            check_select(f"SELECT * FROM {name}()")


def test_the_denied_functions_exist_and_every_revealing_internal_view_is_refused() -> None:
    con = duckdb.connect()
    scalars = {
        row[0] for row in con.execute("SELECT function_name FROM duckdb_functions()").fetchall()
    }
    assert DENIED_FUNCTIONS - scalars <= {"getenv"}  # getenv exists only in the DuckDB shell
    views = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE internal"
    ).fetchall()
    assert {view for _, view in views} >= SAFE_INTERNAL_VIEWS
    for schema, view in views:
        if schema == "information_schema":
            check_select(f"SELECT * FROM information_schema.{view}")
        elif view in SAFE_INTERNAL_VIEWS:
            check_select(f"SELECT * FROM {view}")
        else:
            with pytest.raises(QueryRefused, match=view):
                check_select(f"SELECT * FROM {view}")


def test_check_select_is_safe_to_call_from_many_threads() -> None:
    queries = [f"SELECT {i} AS n FROM range(3)" for i in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(check_select, queries)) == queries


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with one Parquet file under an allowed directory and one outside it."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "outside").mkdir()
    table = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "checkpoints" / "traces.parquet")
    pq.write_table(table, tmp_path / "outside" / "secret.parquet")
    return tmp_path


@pytest.fixture
def con(store: Path) -> duckdb.DuckDBPyConnection:
    """A locked connection with a view over the allowed Parquet file and an Arrow table."""
    connection = connect(allowed_directories=[store / "checkpoints"], memory_limit="256MB")
    path = store / "checkpoints" / "traces.parquet"
    connection.execute(f"CREATE VIEW traces AS SELECT * FROM read_parquet('{path}')")
    connection.register("scores", pa.table({"id": [1, 2, 3], "score": [0.5, 0.25, 1.0]}))
    return connection


def test_run_reads_a_view_over_parquet_and_a_registered_arrow_table(
    con: duckdb.DuckDBPyConnection,
) -> None:
    result = run(
        con,
        "SELECT t.name, s.score FROM traces t JOIN scores s USING (id) ORDER BY s.score",
    )
    assert isinstance(result, QueryResult)
    assert result.columns == [("name", "VARCHAR"), ("score", "DOUBLE")]
    assert result.table.to_pydict() == {"name": ["b", "a", "c"], "score": [0.25, 0.5, 1.0]}
    assert result.truncated is False


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("WITH t AS (SELECT id FROM traces WHERE id > 1) SELECT count(*) AS n FROM t", [2]),
        ("SELECT id FROM traces UNION ALL SELECT id FROM scores ORDER BY id", [1, 1, 2, 2, 3, 3]),
        ("SELECT sum(range) AS n FROM range(10)", [45]),
        ("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'traces'", [1]),
        ("SELECT x FROM unnest([7, 8]) t(x)", [7, 8]),
    ],
)
def test_run_accepts_ordinary_selects(
    con: duckdb.DuckDBPyConnection, sql: str, rows: list[int]
) -> None:
    assert run(con, sql).table.column(0).to_pylist() == rows


def test_run_binds_parameters(con: duckdb.DuckDBPyConnection) -> None:
    result = run(con, "SELECT name FROM traces WHERE id >= ? AND name <> ?", [2, "c"])
    assert result.table.column("name").to_pylist() == ["b"]


def test_run_caps_rows_and_reports_truncation(con: duckdb.DuckDBPyConnection) -> None:
    capped = run(con, "SELECT * FROM range(100)", max_rows=10)
    assert capped.table.num_rows == 10
    assert capped.table.column(0).to_pylist() == list(range(10))
    assert capped.truncated is True
    exact = run(con, "SELECT * FROM range(10)", max_rows=10)
    assert (exact.table.num_rows, exact.truncated) == (10, False)
    none = run(con, "SELECT * FROM range(5)", max_rows=0)
    assert (none.table.num_rows, none.truncated, none.columns) == (0, True, [("range", "BIGINT")])
    # a huge result is streamed, never materialised
    started = time.monotonic()
    assert run(con, "SELECT * FROM range(10000000000)", max_rows=3).truncated is True
    assert time.monotonic() - started < 5
    # and the connection is free for the next query afterwards
    assert run(con, "SELECT 1 AS one").table.to_pydict() == {"one": [1]}


def test_the_watchdog_stops_a_runaway_query(con: duckdb.DuckDBPyConnection) -> None:
    started = time.monotonic()
    with pytest.raises(QueryFailed, match="time limit") as caught:
        run(
            con,
            "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range + b.range = 7",
            timeout=0.3,
        )
    assert time.monotonic() - started < 5
    assert caught.value.fields == {"timeout": 0.3}
    assert "narrow" in (caught.value.hint or "")
    assert run(con, "SELECT 2 AS two", timeout=5).table.to_pydict() == {"two": [2]}


def test_run_refuses_before_it_runs(con: duckdb.DuckDBPyConnection, store: Path) -> None:
    secret = store / "checkpoints" / "traces.parquet"
    with pytest.raises(QueryRefused, match="read_parquet"):
        run(con, f"SELECT * FROM read_parquet('{secret}')")
    with pytest.raises(QueryRefused, match="duckdb_settings"):
        run(con, "SELECT * FROM duckdb_settings()")


def test_run_translates_engine_errors(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QueryFailed, match="no_such_column") as caught:
        run(con, "SELECT no_such_column FROM traces")
    assert caught.value.fields["error"] == "BinderException"
    assert isinstance(caught.value.__cause__, duckdb.Error)
    with pytest.raises(QueryFailed):
        run(con, "SELECT ? AS missing_parameter")


def test_a_python_variable_is_not_a_table(con: duckdb.DuckDBPyConnection) -> None:
    assert check_select("SELECT * FROM some_python_variable")  # the guard cannot know
    with pytest.raises(QueryFailed, match="some_python_variable"):
        run(con, "SELECT * FROM some_python_variable")


def test_the_configuration_is_locked(con: duckdb.DuckDBPyConnection) -> None:
    for statement in [
        "SET memory_limit = '10GB'",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET lock_configuration = false",
        "SET python_enable_replacements = true",
        "RESET threads",
    ]:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(statement)


def test_the_lockdown_holds_without_the_guard(con: duckdb.DuckDBPyConnection, store: Path) -> None:
    # Straight through con.execute: the connection alone refuses what the guard refuses.
    for statement in [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        f"SELECT * FROM '{store / 'outside' / 'secret.parquet'}'",
        f"SELECT * FROM '{store / 'checkpoints' / '..' / 'outside' / 'secret.parquet'}'",
        "SELECT * FROM glob('/*')",
        "LOAD httpfs",
        "INSTALL httpfs",
    ]:
        with pytest.raises(duckdb.Error):
            con.execute(statement).fetchall()


def test_a_view_outside_the_allowed_directories_cannot_be_created(
    con: duckdb.DuckDBPyConnection, store: Path
) -> None:
    path = store / "outside" / "secret.parquet"
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"CREATE VIEW secret AS SELECT * FROM read_parquet('{path}')")


def _assert_a_big_sort_runs_out_of_memory(con: duckdb.DuckDBPyConnection) -> None:
    """A sort of ~200 MB fails at a 16 MB limit, with the memory error and hint."""
    with pytest.raises(QueryFailed) as caught:
        run(
            con,
            "SELECT count(*) FROM (SELECT repeat('x', 100) || range AS s "
            "FROM range(2000000) ORDER BY s)",
        )
    assert caught.value.fields["error"] == "OutOfMemoryException"
    assert "memory" in (caught.value.hint or "")


def test_a_query_over_the_memory_limit_fails_instead_of_spilling() -> None:
    _assert_a_big_sort_runs_out_of_memory(connect(memory_limit="16MB", threads=1))


def test_tables_loaded_before_the_lock_do_not_count_against_the_memory_limit() -> None:
    def load(con: duckdb.DuckDBPyConnection) -> None:  # ~60 MB: more than the 16 MB limit
        con.execute("CREATE TABLE tail AS SELECT repeat('x', 100) || range AS s FROM range(500000)")

    with pytest.raises(duckdb.OutOfMemoryException):  # the same table, loaded after the lock
        load(connect(memory_limit="16MB", threads=1))
    loaded = connect(memory_limit="16MB", threads=1, load=load)
    assert run(loaded, "SELECT count(*), max(length(s)) FROM tail").table.to_pylist() == [
        {"count_star()": 500000, "max(length(s))": 106}
    ]
    # queries still get no more than the limit on top of the loaded tables
    _assert_a_big_sort_runs_out_of_memory(loaded)
    with pytest.raises(duckdb.Error):  # and the configuration is locked as before
        loaded.execute("SET memory_limit = '10GB'")


@pytest.mark.parametrize(
    ("size", "expected"),
    [("1GB", 10**9), ("256MiB", 256 * 2**20), (" 1.5 kb", 1500), ("512", 512), ("2TiB", 2**41)],
)
def test_memory_limit_sizes_are_read_as_duckdb_reads_them(size: str, expected: int) -> None:
    assert _bytes(size) == expected


def test_a_memory_limit_that_is_not_a_size_is_refused() -> None:
    with pytest.raises(ValueError, match="memory_limit '1 gallon' is not a size"):
        connect(memory_limit="1 gallon")
