"""Dataset names: no read model, SQL keyword or DuckDB relation may be hidden by a view."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lakehouse import InvalidInput, NotFound, Store
from lakehouse.catalog import dataset_id, validate_dataset_name
from lakehouse.catalog._models import INGESTED
from lakehouse.catalog._names import NAME_PATTERN
from tests.lakehouse._util import head_seq

STAFF = "id,name\n1,Ana\n"


def duckdb_relation_names() -> set[str]:
    """Every name DuckDB itself gives a relation: table functions and macros, its views
    and tables, in every schema, and the schemas and databases themselves."""
    con = duckdb.connect()
    queries = [
        "SELECT function_name FROM duckdb_functions() "
        "WHERE function_type IN ('table', 'table_macro')",
        "SELECT view_name FROM duckdb_views() WHERE internal",
        "SELECT table_name FROM duckdb_tables() WHERE internal",
        "SELECT schema_name FROM duckdb_schemas()",
        "SELECT database_name FROM duckdb_databases()",
    ]
    return {str(row[0]).lower() for query in queries for row in con.sql(query).fetchall()}


def refused(name: str) -> bool:
    try:
        validate_dataset_name(name)
    except InvalidInput:
        return True
    return False


def test_every_relation_name_duckdb_has_is_refused() -> None:
    names = duckdb_relation_names()
    # the list comes from DuckDB and holds what the issue names
    assert {"duckdb_settings", "pg_settings", "duckdb_tables", "tables", "read_csv"} <= names
    assert {"information_schema", "pg_catalog", "main", "system", "temp"} <= names
    plain = sorted(name for name in names if NAME_PATTERN.fullmatch(name))
    assert len(plain) > 150
    assert [name for name in plain if not refused(name)] == []


def test_function_names_outside_the_table_namespace_stay_free() -> None:
    for name in ["sum", "year", "log", "length", "staff", "duckdb", "pg", "reads"]:
        assert validate_dataset_name(name) == name


def test_a_duckdb_name_is_refused_before_anything_is_written(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "staff.csv"
    csv.write_text(STAFF)
    before = head_seq(store)
    for name in ["duckdb_settings", "PG_SETTINGS", "sqlite_master", "information_schema"]:
        with pytest.raises(InvalidInput) as caught:
            lake.datasets.ingest(name, csv)
        error = caught.value
        assert error.message == (
            f"dataset name {name!r} is taken by DuckDB (a system view, table function, schema "
            "or the prefix of those): a view of that name would hide it or break"
        )
        assert error.hint == f"pick another name, e.g. my_{name.lower()}"
        assert error.fields == {"field": "name"}
    assert head_seq(store) == before and not (store / "objects").exists()


def test_a_dataset_whose_name_was_taken_since_can_still_be_dropped(
    lake: Store, store: Path
) -> None:
    # a dataset named before the rule (an older lakehouse wrote the record)
    payload = {
        "dataset_id": dataset_id("summary"),
        "fingerprint": "0" * 64,
        "schema": [],
        "files": [],
        "rows": 0,
        "source": {"format": "csv", "file": "summary.csv", "bytes": 0},
    }
    lake.journal.append(kind=INGESTED.name, entity="dataset", id="summary", payload=payload, rev=1)
    lake.forget_heads()
    assert lake.datasets.drop("summary").rev == 2
    with pytest.raises(NotFound):
        lake.datasets.drop("no_such")
