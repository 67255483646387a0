"""Every type DuckDB returns, in one query, with what JSON and CSV must hold for each.

Shared by the encoder's unit tests (tests/projections/test_encode.py), the CLI's
(tests/cli/test_sql_output.py) and the endpoint's (tests/server/test_sql_types.py): one
query, so each format costs one run. A column is (name, SQL, reported type, JSON value,
CSV field as written). TIMESTAMPTZ is left out of the exact checks (its offset is the
session's time zone) and checked as an instant instead.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple


class Case(NamedTuple):
    name: str
    sql: str
    type: str
    json: Any
    csv: str


HUGE = "170141183460469231731687303715884105727"
UHUGE = "340282366920938463463374607431768211455"

CASES = [
    Case("a", "1", "INTEGER", 1, "1"),
    Case("a", "2", "INTEGER", 2, "2"),  # a repeated name
    Case("big_sum", "sum(x)", "HUGEINT", 3, "3"),
    Case("hmax", f"{HUGE}::HUGEINT", "HUGEINT as text", HUGE, HUGE),
    Case("umax", f"{UHUGE}::UHUGEINT", "UHUGEINT as text", UHUGE, UHUGE),
    Case("usmall", "7::UHUGEINT", "UHUGEINT", 7, "7"),
    Case(
        "ubig",
        "18446744073709551615::UBIGINT",
        "UBIGINT as text",
        "18446744073709551615",
        "18446744073709551615",
    ),
    Case("ubig_small", "5::UBIGINT", "UBIGINT", 5, "5"),
    Case("dsum", "sum(12345.67::DECIMAL(10,2))", "DECIMAL(38,2)", 24691.34, "24691.34"),
    Case(
        "dbig",
        "123456789012345678901234567890.12::DECIMAL(38,2)",
        "DECIMAL(38,2) as text",
        "123456789012345678901234567890.12",
        "123456789012345678901234567890.12",
    ),
    Case("dsmall", "1.5::DECIMAL(4,2)", "DECIMAL(4,2)", 1.5, "1.50"),
    Case("tiny_scale", "0.00000001::DECIMAL(18,8)", "DECIMAL(18,8)", 1e-08, "0.00000001"),
    Case("dnan", "'nan'::DOUBLE", "DOUBLE as text", "NaN", "NaN"),
    Case("dinf", "'inf'::DOUBLE", "DOUBLE as text", "Infinity", "Infinity"),
    Case("fninf", "'-inf'::FLOAT", "FLOAT as text", "-Infinity", "-Infinity"),
    Case("f", "0.1::FLOAT", "FLOAT", 0.1, "0.1"),
    Case("d", "0.1::DOUBLE", "DOUBLE", 0.1, "0.1"),
    Case("i8", "(-128)::TINYINT", "TINYINT", -128, "-128"),
    Case("i64", "(-9223372036854775808)::BIGINT", "BIGINT", -(2**63), "-9223372036854775808"),
    Case("u32", "4294967295::UINTEGER", "UINTEGER", 4294967295, "4294967295"),
    Case("l", "[1, 2, NULL]", "INTEGER[]", [1, 2, None], '"[1,2,null]"'),
    Case(
        "st",
        "{'a': 1, 'b': 'x'}",
        "STRUCT(a INTEGER, b VARCHAR)",
        {"a": 1, "b": "x"},
        '"{""a"":1,""b"":""x""}"',
    ),
    Case("m", "MAP {'k': 1}", "MAP(VARCHAR, INTEGER)", [["k", 1]], '"[[""k"",1]]"'),
    Case("mi", "MAP {1: 'a'}", "MAP(INTEGER, VARCHAR)", [[1, "a"]], '"[[1,""a""]]"'),
    Case("blob", "'\\xAA\\x00abc'::BLOB", "BLOB", "qgBhYmM=", '"qgBhYmM="'),
    Case(
        "iv",
        "INTERVAL '1 month 2 days 3 hours 4.5 seconds'",
        "INTERVAL",
        "P1M2DT3H4.5S",
        '"P1M2DT3H4.5S"',
    ),
    Case(
        "iv_neg",
        "INTERVAL '1 month' - INTERVAL '2 days 90 minutes'",
        "INTERVAL",
        "P1M-2DT-1H-30M",
        '"P1M-2DT-1H-30M"',
    ),
    Case(
        "ts",
        "TIMESTAMP '2024-01-02 03:04:05'",
        "TIMESTAMP",
        "2024-01-02T03:04:05.000000",
        '"2024-01-02T03:04:05.000000"',
    ),
    Case(
        "tsns",
        "TIMESTAMP_NS '2024-01-02 03:04:05.123456789'",
        "TIMESTAMP_NS",
        "2024-01-02T03:04:05.123456789",
        '"2024-01-02T03:04:05.123456789"',
    ),
    Case(
        "tss",
        "TIMESTAMP_S '2024-01-02 03:04:05'",
        "TIMESTAMP_S",
        "2024-01-02T03:04:05",
        '"2024-01-02T03:04:05"',
    ),
    Case(
        "tsms",
        "TIMESTAMP_MS '2024-01-02 03:04:05.123'",
        "TIMESTAMP_MS",
        "2024-01-02T03:04:05.123",
        '"2024-01-02T03:04:05.123"',
    ),
    Case("tsinf", "'infinity'::TIMESTAMP", "TIMESTAMP", "infinity", '"infinity"'),
    Case("dninf", "'-infinity'::DATE", "DATE", "-infinity", '"-infinity"'),
    Case("day", "DATE '2026-01-02'", "DATE", "2026-01-02", '"2026-01-02"'),
    Case("dfar", "DATE '20000-01-01'", "DATE", "20000-01-01", '"20000-01-01"'),
    Case("dbc", "DATE '0001-01-01' - 1", "DATE", "0001-12-31 (BC)", '"0001-12-31 (BC)"'),
    Case("t", "TIME '12:34:56.789'", "TIME", "12:34:56.789000", '"12:34:56.789000"'),
    Case(
        "ttz",
        "TIMETZ '12:34:56+05:30'",
        "TIME WITH TIME ZONE",
        "12:34:56+05:30",
        '"12:34:56+05:30"',
    ),
    Case(
        "u",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID",
        "UUID",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"',
    ),
    Case("bits", "'0101'::BIT", "BIT", "0101", '"0101"'),
    Case("e", "'b'::ENUM('a', 'b')", "ENUM('a', 'b')", "b", '"b"'),
    Case(
        "un",
        "union_value(n := 5)::UNION(n INTEGER, s VARCHAR)",
        "UNION(n INTEGER, s VARCHAR)",
        5,
        '"5"',
    ),
    Case(
        "vi",
        "'123456789012345678901234567890'::VARINT",
        "BIGNUM as text",
        "123456789012345678901234567890",
        "123456789012345678901234567890",
    ),
    Case("vi_small", "'42'::VARINT", "BIGNUM", 42, "42"),
    Case(
        "nested",
        "[{'k': [1.5, 'nan'::DOUBLE], 'm': MAP {'x': INTERVAL 1 day}}]",
        "STRUCT(k DOUBLE[], m MAP(VARCHAR, INTERVAL))[] as text",
        [{"k": ["1.5", "NaN"], "m": [["x", "P1D"]]}],
        '"[{""k"":[""1.5"",""NaN""],""m"":[[""x"",""P1D""]]}]"',
    ),
    Case(
        "deep",
        "{'n': [[1::HUGEINT, 2]], 'd': 2.25::DECIMAL(30,2)}",
        "STRUCT(n HUGEINT[][], d DECIMAL(30,2))",
        {"n": [[1, 2]], "d": 2.25},
        '"{""n"":[[1,2]],""d"":2.25}"',
    ),
    Case("arr", "[1, 2, 3]::INTEGER[3]", "INTEGER[3]", [1, 2, 3], '"[1,2,3]"'),
    Case("j", "'{\"a\":1}'::JSON", "JSON", '{"a":1}', '"{""a"":1}"'),
    Case("n", "NULL", '"NULL"', None, ""),
    Case("b", "true", "BOOLEAN", True, "true"),
    Case("s", "'say \"hi\", then go'", "VARCHAR", 'say "hi", then go', '"say ""hi"", then go"'),
    Case(
        "ltz",
        "[TIMETZ '01:00:00+01']",
        "TIME WITH TIME ZONE[]",
        ["01:00:00+01"],
        '"[""01:00:00+01""]"',
    ),
    Case("su", "{'u': 1::UHUGEINT}", "STRUCT(u UHUGEINT) as text", {"u": "1"}, '"{""u"":""1""}"'),
]

TSTZ = ("tstz", "TIMESTAMPTZ '2024-01-02 03:04:05.123456+02'", "TIMESTAMP WITH TIME ZONE")
INSTANT = datetime.datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=datetime.UTC)

QUERY = (
    "SELECT "
    + ", ".join(f'{case.sql} AS "{case.name}"' for case in CASES)
    + f', {TSTZ[1]} AS "{TSTZ[0]}" FROM (SELECT 1 AS x UNION ALL SELECT 2)'
)
NAMES = [case.name for case in CASES] + [TSTZ[0]]
TYPES = [case.type for case in CASES] + [TSTZ[2]]


def check_json_row(row: list[Any]) -> None:
    """`row` holds each case's JSON value, and the instant of TIMESTAMPTZ."""
    assert len(row) == len(NAMES)
    wrong = {
        case.name: (value, case.json)
        for case, value in zip(CASES, row, strict=False)
        if value != case.json or type(value) is not type(case.json)
    }
    assert not wrong, wrong
    assert datetime.datetime.fromisoformat(row[-1]) == INSTANT


def check_csv_fields(fields: list[str]) -> None:
    """`fields` (one CSV line split as written, quotes kept) hold each case's CSV text."""
    wrong = {
        case.name: (field, case.csv)
        for case, field in zip(CASES, fields, strict=False)
        if field != case.csv
    }
    assert not wrong, wrong
    assert datetime.datetime.fromisoformat(fields[-1].strip('"')) == INSTANT


def split_csv_line(line: str) -> list[str]:
    """A CSV line split into its fields as written (quotes kept), so quoting is checked."""
    fields, field, quoted = [], "", False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            fields.append(field)
            field = ""
        else:
            field += char
    return [*fields, field]
