"""`render`: a query result as the text `lakehouse sql --format` prints, in pieces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from projections._encode import FORMATS, Encoding
from projections._sql import QueryResult
from projections._text import table_text


def render(result: QueryResult, fmt: str, *, watermark: int | None = None) -> Iterator[str]:
    """The result in `fmt` (table, json, nl, csv), as pieces of text to write in order.

    json is one object: columns (name, type), rows (lists), row_count, truncated, and the
    watermark when one is given; nl is a JSON object per row; csv has a header line.
    """
    encoding = Encoding(result.columns, result.table)
    table = result.table
    if fmt == "json":
        body: dict[str, Any] = {
            "columns": encoding.columns(),
            "rows": encoding.rows(table),
            "row_count": table.num_rows,
            "truncated": result.truncated,
        }
        if watermark is not None:
            body["watermark"] = watermark
        yield orjson.dumps(body).decode() + "\n"
    elif fmt == "nl":
        for record in encoding.records(table):
            yield orjson.dumps(record).decode() + "\n"
    elif fmt == "csv":
        yield encoding.csv(table, header=True)
    elif fmt == "table":
        yield table_text(encoding.names, encoding.cells(table), empty="(no rows)")
    else:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
