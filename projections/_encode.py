"""A query result written out: JSON (one object), NDJSON, CSV or an aligned table.

The one place where a result's values become JSON or text, used by `lakehouse sql`, the
Python API (`QueryResult.rows()`, `store.sql(format=...)`) and POST /v1/sql. `Encoding`
decides once per result, per column, whether its wide numbers are JSON numbers or text
(projections/_values.py has the rules), so an answer encoded a slice at a time never
mixes the two in a column.

Columns keep their names, repeats included: in JSON a row is a list in column order, in
CSV and the table a header names every column. Only NDJSON, whose rows are objects,
renames a repeat (`a`, `a_1`, ...; see `unique_names`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from projections._text import cell_text, csv_line, unique_names
from projections._values import WIDE_TEXT, Convert, converter, fits

TEXT = " as text"  # the suffix of a column type whose wide numbers are strings
# inside a nested value these come as DuckDB's text (projections/_sql.py): such a column's
# wide numbers are all text, so that it never mixes the two
_NESTED_TEXT = re.compile(r"\b(UHUGEINT|BIGNUM|VARINT)\b")
FORMATS = ("table", "json", "nl", "csv")


class Encoding:
    """How one result's columns are written: their reported types and value converters."""

    def __init__(self, columns: Sequence[tuple[str, str]], table: pa.Table) -> None:
        self.names = [name for name, _ in columns]
        self.types: list[str] = []
        self._json: list[Convert] = []
        self._text: list[Convert] = []
        self.quoted: list[bool] = []
        for index, (_, duck) in enumerate(columns):
            kind = table.schema.field(index).type
            hint = duck.upper()
            nested = hint not in WIDE_TEXT and _NESTED_TEXT.search(hint) is not None
            text = nested or not fits(kind, table.column(index), hint)
            self.types.append(duck + TEXT if text else duck)
            self._json.append(converter(kind, text=text, hint=hint))
            number = _is_number(kind) or hint in WIDE_TEXT
            # CSV and the table have no number limits: a number is written in full there
            self._text.append(converter(kind, text=True, hint=hint) if number else self._json[-1])
            self.quoted.append(not number and not pa.types.is_boolean(kind))

    def columns(self) -> list[dict[str, str]]:
        """Each column's name and type (DuckDB's, `... as text` when its numbers are strings)."""
        return [{"name": n, "type": t} for n, t in zip(self.names, self.types, strict=True)]

    def rows(self, table: pa.Table) -> list[list[Any]]:
        """The table's rows as lists of JSON values, in column order."""
        return _rows(table, self._json)

    def records(self, table: pa.Table) -> list[dict[str, Any]]:
        """The rows as JSON objects, a repeated column name made unique (`a`, `a_1`)."""
        keys = unique_names(self.names)
        return [dict(zip(keys, row, strict=True)) for row in self.rows(table)]

    def cells(self, table: pa.Table) -> list[list[str]]:
        """The rows as text, a cell a value: numbers in full, nested values as JSON."""
        return [[cell_text(value) for value in row] for row in _rows(table, self._text)]

    def csv(self, table: pa.Table, *, header: bool) -> str:
        """The rows as CSV lines (strings quoted, numbers bare, null empty), a header first."""
        lines = [csv_line(self.names, [True] * len(self.names))] if header else []
        lines += [csv_line(row, self.quoted) for row in _rows(table, self._text)]
        return "".join(line + "\n" for line in lines)


def _rows(table: pa.Table, converters: list[Convert]) -> list[list[Any]]:
    columns = [
        [value for chunk in table.column(i).chunks for value in convert(chunk)]
        for i, convert in enumerate(converters)
    ]
    if not columns:
        return [[] for _ in range(table.num_rows)]
    return [list(row) for row in zip(*columns, strict=True)]


def _is_number(kind: pa.DataType) -> bool:
    types = pa.types
    return bool(types.is_integer(kind) or types.is_floating(kind) or types.is_decimal(kind))
