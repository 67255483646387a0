"""`store.sql(...)`: one read-only SELECT over the read models, from Python.

The query goes through the same guard and runner as `lakehouse sql` and POST /v1/sql
(`projections.run`: one SELECT over the read models, a time limit, an optional row cap);
`params` bind DuckDB's `?` placeholders. The answer is a `QueryResult`: its `table` is
the Arrow table, `rows()` the rows as tuples of JSON values, `watermark` the seq the read
models reflect. `format="json"|"nl"|"csv"|"table"` gives instead the text `lakehouse sql
--format ...` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from lakehouse._errors import InvalidInput

if TYPE_CHECKING:
    from lakehouse._kernel import Host
    from projections import QueryResult

FORMATS = ("arrow", "table", "json", "nl", "csv")


@overload
def sql(
    store: Host,
    query: str,
    *,
    params: Sequence[Any] = ...,
    as_of: int | None = ...,
    format: Literal["arrow"] = ...,
    max_rows: int | None = ...,
    timeout: float | None = ...,
) -> QueryResult: ...
@overload
def sql(
    store: Host,
    query: str,
    *,
    params: Sequence[Any] = ...,
    as_of: int | None = ...,
    format: Literal["table", "json", "nl", "csv"],
    max_rows: int | None = ...,
    timeout: float | None = ...,
) -> str: ...
def sql(
    store: Host,
    query: str,
    *,
    params: Sequence[Any] = (),
    as_of: int | None = None,
    format: str = "arrow",
    max_rows: int | None = None,
    timeout: float | None = 60.0,
) -> QueryResult | str:
    """Run one read-only SELECT over the read models (at the head, or as of seq `as_of`).

    A QueryResult (`.table` Arrow, `.rows()` tuples of JSON values, `.watermark`), or with
    `format=` the text `lakehouse sql --format` prints. The guard and the errors are the
    CLI's: QueryRefused, QueryFailed (both exit 3 there), InvalidInput for a bad `as_of`.
    """
    from projections import render, run

    if format not in FORMATS:
        raise InvalidInput(
            f"format {format!r} is not one of {', '.join(FORMATS)}",
            hint="pass format='arrow' for a QueryResult, or json, nl, csv or table for text",
            field="format",
        )
    if isinstance(params, str | bytes) or not isinstance(params, Sequence):
        raise InvalidInput(
            "params must be a list of values, one for each ? in the query",
            hint="pass params=[value, ...]",
            field="params",
        )
    models = store.read_models(as_of=as_of)
    try:
        result = run(models.con, query, params, max_rows=max_rows, timeout=timeout)
    finally:
        models.close()
    result = dataclasses.replace(result, watermark=models.seq)
    if format == "arrow":
        return result
    return "".join(render(result, format, watermark=models.seq))
