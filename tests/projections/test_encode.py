"""How a result is written (projections/_encode.py, _values.py): every type, every format.

One query holds every type DuckDB returns (tests/projections/_all_types.py); each format
is checked against what it must hold. The number rule is checked as a property: a value
written as a JSON number reads back as exactly the value DuckDB returned, and a column
is numbers or text, never both.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterator
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import Encoding, QueryResult, ValueUnsupported, connect, render, run
from projections._times import _civil
from projections._times import date_text as date_text_of
from tests.projections._all_types import (
    NAMES,
    QUERY,
    TYPES,
    UHUGE,
    check_csv_fields,
    check_json_row,
    split_csv_line,
)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    opened = connect()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def every_type(con: duckdb.DuckDBPyConnection) -> QueryResult:
    return run(con, QUERY)


def text(result: QueryResult, fmt: str) -> str:
    return "".join(render(result, fmt, watermark=7))


def test_json_holds_every_type_with_its_rule(every_type: QueryResult) -> None:
    body = json.loads(text(every_type, "json"))
    assert body["columns"] == [
        {"name": name, "type": kind} for name, kind in zip(NAMES, TYPES, strict=True)
    ]
    assert (body["row_count"], body["truncated"], body["watermark"]) == (1, False, 7)
    check_json_row(body["rows"][0])
    assert [list(row) for row in every_type.rows()] == body["rows"]


def test_nl_makes_repeated_names_unique_and_holds_the_same_values(
    every_type: QueryResult,
) -> None:
    (line,) = text(every_type, "nl").splitlines()
    record = json.loads(line)
    assert list(record)[:3] == ["a", "a_1", "big_sum"]
    check_json_row(list(record.values()))


def test_csv_holds_every_type_quoting_strings_only(every_type: QueryResult) -> None:
    header, line = text(every_type, "csv").splitlines()
    assert split_csv_line(header) == [f'"{name}"' for name in NAMES]
    check_csv_fields(split_csv_line(line))


def test_table_has_a_column_per_name_repeats_kept(every_type: QueryResult) -> None:
    header, line = text(every_type, "table").splitlines()
    assert header.split() == NAMES
    assert line.split()[:4] == ["1", "2", "3", "170141183460469231731687303715884105727"]


def test_arrow_holds_what_arrow_cannot_type_as_duckdbs_text(con: duckdb.DuckDBPyConnection) -> None:
    # DuckDB hands 2**128 - 1 to Arrow as decimal(38) -1, a TIMETZ without its offset
    result = run(con, f"SELECT {UHUGE}::UHUGEINT AS u, TIMETZ '12:00:00+05:30' AS t, 1 AS u")
    assert result.columns == [("u", "UHUGEINT"), ("t", "TIME WITH TIME ZONE"), ("u", "INTEGER")]
    assert result.table.column_names == ["u", "t", "u"]
    assert result.table.to_pylist() == [{"u": 1, "t": "12:00:00+05:30"}]  # dicts collapse
    assert [column.to_pylist() for column in result.table.columns] == [
        [UHUGE],
        ["12:00:00+05:30"],
        [1],
    ]


def test_a_column_is_numbers_or_text_never_both(con: duckdb.DuckDBPyConnection) -> None:
    result = run(
        con, "SELECT x AS h, x % 7 AS small FROM (VALUES (1::HUGEINT), (1::HUGEINT << 70)) v(x)"
    )
    body = json.loads(text(result, "json"))
    assert [column["type"] for column in body["columns"]] == ["HUGEINT as text", "HUGEINT"]
    assert body["rows"] == [["1", 1], [str(2**70), 2**70 % 7]]
    # an answer encoded a slice at a time keeps the whole result's choice
    encoding = Encoding(result.columns, result.table)
    assert encoding.rows(result.table.slice(0, 1)) == [["1", 1]]


def test_nan_and_infinities_are_never_null(con: duckdb.DuckDBPyConnection) -> None:
    result = run(con, "SELECT x FROM (VALUES (1.5), ('nan'::DOUBLE), (NULL), ('-inf')) v(x)")
    assert result.rows() == [("1.5",), ("NaN",), (None,), ("-Infinity",)]
    finite = run(con, "SELECT x FROM (VALUES (1.5), (NULL)) v(x)")
    assert finite.rows() == [(1.5,), (None,)]


@settings(max_examples=60, deadline=None)
@given(
    digits=st.integers(min_value=0, max_value=10**38 - 1),
    scale=st.integers(min_value=0, max_value=38),
    negative=st.booleans(),
)
def test_a_decimal_reads_back_exactly(
    con: duckdb.DuckDBPyConnection, digits: int, scale: int, negative: bool
) -> None:
    value = Decimal((int(negative), tuple(map(int, str(digits))), -scale))
    result = run(con, f"SELECT ?::DECIMAL(38,{scale}) AS d", [format(value, "f")])
    (written,) = result.rows()[0]
    (column,) = Encoding(result.columns, result.table).types
    if isinstance(written, str):
        assert column == f"DECIMAL(38,{scale}) as text"
        assert Decimal(written) == value
    else:
        assert column == f"DECIMAL(38,{scale})"
        assert Decimal(json.dumps(written)) == value  # the JSON text is the value itself


@settings(max_examples=60, deadline=None)
@given(number=st.floats(allow_nan=True, allow_infinity=True))
def test_a_double_reads_back_exactly(con: duckdb.DuckDBPyConnection, number: float) -> None:
    result = run(con, "SELECT ?::DOUBLE AS d", [repr(number)])
    (written,) = result.rows()[0]
    back = float(written) if isinstance(written, str) else json.loads(json.dumps(written))
    assert (math.isnan(back) and math.isnan(number)) or back == number


@settings(max_examples=200, deadline=None)
@given(day=st.dates())
def test_far_days_are_counted_like_pythons_calendar(day: datetime.date) -> None:
    days = (day - datetime.date(1970, 1, 1)).days
    assert _civil(days) == day.isoformat() == date_text_of(days)


def test_a_type_with_no_rule_is_refused_with_a_hint() -> None:
    children = [pa.array([1]), pa.array(["x"])]
    union = pa.UnionArray.from_dense(
        pa.array([0], pa.int8()), pa.array([0], pa.int32()), children, ["n", "s"]
    )
    table = pa.table({"u": union})
    with pytest.raises(ValueUnsupported) as raised:
        Encoding([("u", "UNION(n INTEGER, s VARCHAR)")], table)
    assert raised.value.exit_code == 3
    assert raised.value.hint == "cast the column to VARCHAR in the query: CAST(x AS VARCHAR)"


@pytest.mark.parametrize(
    ("names", "unique"),
    [
        (["a", "a"], ["a", "a_1"]),
        (["a", "a", "a_1"], ["a", "a_2", "a_1"]),
        (["year", "year", "year"], ["year", "year_1", "year_2"]),
        (["x", "y"], ["x", "y"]),
    ],
)
def test_repeated_names_are_made_unique_keeping_the_unique_ones(
    names: list[str], unique: list[str]
) -> None:
    from projections import unique_names

    assert unique_names(names) == unique
