"""Real data: `lakehouse sql` over an ingested CSV equals DuckDB's `read_csv` of the file.

The files hold the awkward cases users meet: leading zeros, NA in a numeric and in a
text column, empty fields (bare and quoted), slash dates, timestamps with mixed UTC
offsets, Yes/No booleans, quoted commas and line breaks, an int beyond BIGINT, and the
same as a TSV, a semicolon file, a gzip file (by path and on stdin). Both sides are asked
the same two questions in SQL (each column's type, and every value as text), so nothing
is compared that a serializer could have changed. The one documented difference: a
HUGEINT column is stored as DECIMAL(38,0) (Parquet has no 128-bit integer).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from projections import literal

HEADER = ["zip", "code", "n", "name", "day", "ts", "ok", "notes", "big"]
ROWS = [
    ["00123", "NA", "1", "Ana", "2012/01/01", "2024-01-01 10:00:00+01:00", "Yes", '"a, b"',
     "9223372036854775808"],
    ["00456", "7", "NA", "", "2012/02/03", "2024-01-02 11:00:00-05:00", "No",
     '"line one\nline two"', "1"],
    ["", "8", "3", '""', "2012/12/31", "2024-01-03 12:00:00+00:00", "Yes", "plain",
     "18446744073709551616"],
    ["07001", "", "4", "NA", "2013/06/30", "2024-06-30 23:59:59.5-07:00", "No",
     '"she said ""hi"""', "-5"],
]  # fmt: skip
STORED_AS = {"HUGEINT": "DECIMAL(38,0)"}


def text(delimiter: str) -> str:
    return "".join(delimiter.join(row) + "\n" for row in [HEADER, *ROWS])


def run(store: Path, *args: str, stdin: bytes | None = None) -> str:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], input=stdin)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def answers(rows: list[list[object]]) -> tuple[list[str], list[list[object]]]:
    """(column types, rows of values as text) from the two questions' rows."""
    return [str(kind) for kind in rows[0]], rows[1:]


def from_lakehouse(store: Path, name: str) -> tuple[list[str], list[list[object]]]:
    types = json.loads(run(store, "sql", f"SELECT typeof(COLUMNS(*)) FROM {name} LIMIT 1",
                           "--format", "json"))["rows"]  # fmt: skip
    values = json.loads(run(store, "sql", f"SELECT COLUMNS(*)::VARCHAR FROM {name}",
                            "--format", "json"))["rows"]  # fmt: skip
    return answers(types + values)


def from_read_csv(path: Path, options: str = "") -> tuple[list[str], list[list[object]]]:
    con = duckdb.connect()
    # a table first: DuckDB would push a ::VARCHAR down into read_csv and read raw text
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv({literal(str(path))}{options})")
    types = con.sql("SELECT typeof(COLUMNS(*)) FROM t LIMIT 1").fetchall()
    values = con.sql("SELECT COLUMNS(*)::VARCHAR FROM t").fetchall()
    kinds, rows = answers([list(row) for row in types + values])
    return [STORED_AS.get(kind, kind) for kind in kinds], rows


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "comma": tmp_path / "awkward.csv",
        "tab": tmp_path / "awkward.tsv",
        "semicolon": tmp_path / "awkward.txt",
        "gzip": tmp_path / "awkward.csv.gz",
    }
    made["comma"].write_text(text(","))
    made["tab"].write_text(text("\t"))
    made["semicolon"].write_text(text(";"))
    made["gzip"].write_bytes(gzip.compress(text(",").encode()))
    return made


def test_sql_over_an_ingested_csv_equals_read_csv(store: Path, files: dict[str, Path]) -> None:
    expected = from_read_csv(files["comma"])
    # the awkward cases are there, as DuckDB reads them
    assert expected[0] == [
        "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "DATE", "TIMESTAMP WITH TIME ZONE",
        "BOOLEAN", "VARCHAR", "DECIMAL(38,0)",
    ]  # fmt: skip
    assert expected[1][0][0] == "00123" and expected[1][2][0] is None  # zeros kept, empty NULL
    assert expected[1][0][1] == "NA" and expected[1][1][3] is None  # NA is text, "" is NULL
    for kind, path in files.items():
        name = f"awkward_{kind}"
        out = run(store, "dataset", "ingest", name, str(path))
        assert out.startswith(f"dataset {name} rev 1 at seq ") and ": created, 4 rows" in out
        assert from_lakehouse(store, name) == expected, kind
    gz = files["gzip"].read_bytes()
    run(store, "dataset", "ingest", "awkward_stdin", "-", stdin=gz)
    assert from_lakehouse(store, "awkward_stdin") == expected


def test_the_reading_options_equal_read_csvs_own(store: Path, files: dict[str, Path]) -> None:
    path = files["semicolon"]
    cases = {
        "nulls": (["--null-value", "NA", "--null-value", ""], ", nullstr = ['NA', '']"),
        "typed": (["--column", "n=VARCHAR", "--column", "code=INT"], ""),
        "delimited": (["--delimiter", ";"], ", delim = ';'"),
    }
    typed = ", types = {'n': 'VARCHAR', 'code': 'INTEGER'}, nullstr = ['NA', '']"
    cases["typed"] = ([*cases["typed"][0], "--null-value", "NA", "--null-value", ""], typed)
    for name, (args, options) in cases.items():
        run(store, "dataset", "ingest", name, str(path), *args)
        assert from_lakehouse(store, name) == from_read_csv(path, options), name
    assert from_lakehouse(store, "nulls")[0][1:3] == ["BIGINT", "BIGINT"]  # NA made them NULL
    assert from_lakehouse(store, "typed")[0][1:3] == ["INTEGER", "VARCHAR"]
