"""No answer names a path of the server's machine: not the store's root, nor the temporary or
home directory it lives in, whatever the catalog function, the failure or the route."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.server.conftest import Seeded, TestClient

# every DuckDB catalog function and view the guard lets through, each row whole as text
CATALOG = [
    f"SELECT string_agg(t::VARCHAR, ' ') FROM {name}() t"
    for name in (
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_functions",  # macros carry their definition
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
    )
] + ["SHOW TABLES", "SHOW ALL TABLES", "DESCRIBE staff", "SUMMARIZE staff"]

# the ways to settings, databases, files and the environment: refused, and the refusal
# names no path either
REFUSED = [
    "SELECT * FROM duckdb_settings()",
    "SELECT current_setting('allowed_directories')",
    "SELECT current_setting('file_search_path')",
    "SELECT current_setting('home_directory')",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_memory()",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM pragma_metadata_info()",
    "SELECT * FROM pg_settings",
    "SELECT getenv('HOME')",
    "SHOW databases",
    "PRAGMA database_list",
    "SELECT * FROM read_parquet('objects/datasets/staff/*.parquet')",
    "SELECT * FROM 'objects/datasets/staff/x.parquet'",
]

ROUTES = ["/health", "/v1/datasets", "/v1/datasets/staff", "/v1/journal?after=0", "/openapi.json"]


def machine_paths(root: Path) -> list[str]:
    """The paths an answer must not name: the root, and the directories it lives in."""
    paths = {str(root), str(root.resolve()), str(root.parent.resolve()), tempfile.gettempdir()}
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        paths.add(home)
    return sorted(paths)


def assert_names_no_path(body: str, root: Path, what: str) -> None:
    for path in machine_paths(root):
        assert path not in body, f"{what} names {path}: {body[:500]}"


@pytest.fixture
def leaky(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(max_rows=100_000)) as client:
        yield client


def test_no_catalog_function_names_a_path(leaky: TestClient, seeded: Seeded) -> None:
    schema = "SELECT view_name FROM duckdb_views() WHERE schema_name = 'information_schema'"
    views = [row[0] for row in leaky.post("/v1/sql", json={"sql": schema}).json()["data"]["rows"]]
    assert "views" in views
    queries = CATALOG + [
        f"SELECT string_agg(t::VARCHAR, ' ') FROM information_schema.{view} t" for view in views
    ]
    for sql in queries:
        response = leaky.post("/v1/sql", json={"sql": sql})
        assert response.status_code == 200, response.text
        assert_names_no_path(response.text, seeded.root, sql)
    # the dataset's view really reads its files: by a name relative to the store
    staff = leaky.post("/v1/sql", json={"sql": "SELECT name FROM staff ORDER BY name"})
    assert staff.json()["data"]["rows"] == [["Ada"], ["Grace"]]


@pytest.mark.parametrize("sql", REFUSED)
def test_settings_and_files_are_refused_without_naming_a_path(
    leaky: TestClient, seeded: Seeded, sql: str
) -> None:
    response = leaky.post("/v1/sql", json={"sql": sql})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("query_refused", "query_failed")
    assert_names_no_path(response.text, seeded.root, sql)


def test_a_failed_parquet_read_names_no_path(leaky: TestClient, seeded: Seeded) -> None:
    (data,) = (seeded.root / "objects" / "datasets" / "staff").glob("*.parquet")
    data.write_bytes(b"PAR1 not a parquet file any more")
    response = leaky.post("/v1/sql", json={"sql": "SELECT * FROM staff"})
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, "query_failed"), response.text
    # DuckDB names the file by its resolved path; the answer names it within the store
    assert "'<store>/objects/datasets/staff/" in error["message"], error
    assert_names_no_path(response.text, seeded.root, "the failed read")
    assert leaky.get("/health").json()["data"]["status"] == "ok"


def test_no_route_names_a_path(leaky: TestClient, seeded: Seeded) -> None:
    for route in ROUTES:
        response = leaky.get(route)
        assert response.status_code == 200, response.text
        assert_names_no_path(response.text, seeded.root, route)
