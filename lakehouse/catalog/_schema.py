"""Schemas as the catalog records them: ordered (name, Arrow type) columns and their fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import orjson

from lakehouse._errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa


def schema_columns(schema: pa.Schema) -> list[dict[str, str]]:
    """The schema as a JSON-ready list of {"name": ..., "type": ...}, in column order."""
    return [{"name": field.name, "type": str(field.type)} for field in schema]


def columns_fingerprint(columns: Sequence[Mapping[str, str]]) -> str:
    """sha256 hex over the ordered [name, type] pairs, as compact JSON (orjson)."""
    pairs = [[column["name"], column["type"]] for column in columns]
    return hashlib.sha256(orjson.dumps(pairs)).hexdigest()


def schema_fingerprint(schema: pa.Schema) -> str:
    """sha256 hex of the ordered (column name, Arrow type) pairs of `schema`.

    Any rename, reorder or type change gives another fingerprint; nullability and
    metadata do not count.
    """
    return columns_fingerprint(schema_columns(schema))


def check_columns(schema: pa.Schema, file: str) -> None:
    """Refuse column names a SQL view cannot carry: empty, or the same up to case."""
    seen: dict[str, str] = {}
    for position, field in enumerate(schema, start=1):
        try:
            name = field.name
        except UnicodeDecodeError as error:  # pyarrow decodes names strictly, on access
            raise InvalidInput(
                f"{file}: the name of column {position} is not valid UTF-8",
                hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                field="file",
                file=file,
                column=position,
            ) from error
        if not name.strip():
            raise InvalidInput(
                f"{file}: column {position} has no name",
                hint="give every column a name in the header row",
                field="file",
                file=file,
                column=position,
            )
        if name.lower() in seen:
            raise InvalidInput(
                f"{file}: duplicate column name {name!r}"
                + (f" (also spelled {seen[name.lower()]!r})" if seen[name.lower()] != name else ""),
                hint="rename one of the columns: names must differ, ignoring case (SQL does)",
                field="file",
                file=file,
                column=name,
            )
        seen[name.lower()] = name
