"""`lakehouse sql` prints exactly what DuckDB returns, in every format, for every type.

Repeated column names are kept (json: rows are lists; table and csv: a header per
column; nl renames a repeat `a_1`), a wide number is a JSON number only when its whole
column fits, and nested values print in CSV as JSON text instead of a traceback. The
expected values are in tests/projections/_all_types.py, shared with the endpoint's test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from journal import Journal
from lakehouse.cli import cli
from tests.projections._all_types import (
    NAMES,
    QUERY,
    TYPES,
    check_csv_fields,
    check_json_row,
    split_csv_line,
)

OFF = {"LAKEHOUSE_CHECKPOINT_EVERY": "0"}
JOIN = (
    "WITH f AS (SELECT 2020 AS year, 'a' AS k), p AS (SELECT 2021 AS year, 'a' AS k) "
    "SELECT f.year, p.year FROM f JOIN p USING (k)"
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sql-output") / "store"
    Journal.open(path, create=True).close()
    return path


def run(root: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(root), *args], env=OFF, input=stdin)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_a_join_keeps_both_columns_of_one_name_in_every_format(root: Path) -> None:
    code, out, err = run(root, "sql", JOIN, "--json")
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert body["columns"] == [{"name": "year", "type": "INTEGER"}] * 2
    assert body["rows"] == [[2020, 2021]]
    assert run(root, "sql", JOIN, "--format", "nl") == (0, '{"year":2020,"year_1":2021}\n', "")
    assert run(root, "sql", JOIN, "--format", "csv") == (0, '"year","year"\n2020,2021\n', "")
    assert run(root, "sql", JOIN) == (0, "year  year\n2020  2021\n", "")


def test_sums_and_decimals_are_numbers_when_they_fit(root: Path) -> None:
    query = "SELECT sum(x) AS total, sum(x * 1.25) AS priced FROM range(4) r(x)"
    body = json.loads(run(root, "sql", query, "--json")[1])
    assert body["columns"] == [
        {"name": "total", "type": "HUGEINT"},
        {"name": "priced", "type": "DECIMAL(38,2)"},
    ]
    assert body["rows"] == [[6, 7.5]]
    assert run(root, "sql", query, "--format", "nl")[1] == '{"total":6,"priced":7.5}\n'


def test_every_type_in_json(root: Path) -> None:
    code, out, err = run(root, "sql", QUERY, "--format", "json")
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert [column["type"] for column in body["columns"]] == TYPES
    check_json_row(body["rows"][0])


def test_every_type_in_nl(root: Path) -> None:
    code, out, err = run(root, "sql", QUERY, "--format", "nl")
    assert (code, err) == (0, "")
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert list(record)[:2] == ["a", "a_1"]
    check_json_row(list(record.values()))


def test_every_type_in_csv(root: Path) -> None:
    code, out, err = run(root, "sql", QUERY, "--format", "csv")
    assert (code, err) == (0, "")
    header, line = out.splitlines()
    assert split_csv_line(header) == [f'"{name}"' for name in NAMES]
    check_csv_fields(split_csv_line(line))


def test_every_type_in_a_table(root: Path) -> None:
    code, out, err = run(root, "sql", QUERY)
    assert (code, err) == (0, "")
    header, line = out.splitlines()
    assert header.split() == NAMES
    assert "0001-12-31 (BC)" in line and "P1M2DT3H4.5S" in line


def test_the_query_comes_from_stdin_or_a_file(root: Path, tmp_path: Path) -> None:
    query = "SELECT 40 + 2 AS answer"
    expected = (0, '"answer"\n42\n', "")
    assert run(root, "sql", "-", "--format", "csv", stdin=query) == expected
    assert run(root, "sql", "--format", "csv", stdin=query) == expected  # stdin not a terminal
    (tmp_path / "q.sql").write_text(query + ";\n")
    assert run(root, "sql", "--file", str(tmp_path / "q.sql"), "--format", "csv") == expected
    assert run(root, "sql", "-f", "-", "--format", "csv", stdin=query) == expected
    assert run(root, "sql", "-", stdin="  \n") == (
        3,
        "",
        "error: the query from stdin is empty\n"
        'hint: pass one SELECT, e.g. lakehouse sql "SELECT count(*) FROM journal"\n',
    )
    code, _, err = run(root, "sql", query, "--file", str(tmp_path / "q.sql"))
    assert (code, err.splitlines()[0]) == (
        3,
        "error: a query was given both as an argument and with --file",
    )
