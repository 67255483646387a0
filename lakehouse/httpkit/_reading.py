"""What the read routes of every family share: parameter types, rows of our own queries
with their JSON columns decoded, and search hits."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Path, Query
from pydantic import Field

from lakehouse._search import search_rows
from lakehouse.httpkit._deps import Whole
from projections import ReadModels

# columns that hold JSON text in the read models, decoded for the response
JSON_COLUMNS = frozenset({"content", "schema", "files", "source", "timings"})
Name = Annotated[str, Path(min_length=1, max_length=256)]
SearchText = Annotated[
    str, Query(min_length=1, max_length=2000, description="Words to look for; blank finds none.")
]
K = Annotated[
    Annotated[int, Field(ge=1, le=1000)], Whole, Query(description="How many hits at most.")
]


def search_hits(
    models: ReadModels, projection: str, table: str, q: str, k: int, **options: Any
) -> list[dict[str, Any]]:
    """The `k` rows of `table` most like `q` by `projection`'s index, JSON decoded."""
    # blank text finds nothing (what counts as blank differs between JSON Schema, pydantic
    # and Python, so the schema cannot refuse it exactly; an empty answer is never wrong)
    if not q.strip():
        return []
    return [decoded(hit) for hit in search_rows(models, projection, table, q, k, **options)]


def rows(models: ReadModels, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of our own query, on a cursor of this request's own, JSON columns decoded."""
    with models.cursor() as cursor:
        cursor.execute(sql, params or [])
        names = [column[0] for column in cursor.description or ()]
        return [decoded(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its JSON-text columns parsed (in place)."""
    for name in JSON_COLUMNS & row.keys():
        if isinstance(row[name], str):
            row[name] = orjson.loads(row[name])
    return row
