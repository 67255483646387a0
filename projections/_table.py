"""Tables: what a projection keeps, as columns, and the changes a run of records makes.

A *keyed* table holds one row per key, the latest winning (a row of ``None`` removes the
key); a *log* table only ever grows. Rows are plain tuples in column order, gathered in
Python while records are applied and handed to DuckDB as Arrow tables in one go.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

Row = tuple[Any, ...]

# DuckDB type -> how its values are handed over in Arrow (built lazily: pyarrow is heavy)
_ARROW_TYPES = ("VARCHAR", "BIGINT", "BOOLEAN", "DOUBLE", "VARCHAR[]")


@dataclass(frozen=True)
class Column:
    """A column: its name and DuckDB type (VARCHAR, BIGINT, BOOLEAN, DOUBLE, VARCHAR[])."""

    name: str
    type: str

    def __post_init__(self) -> None:
        if self.type not in _ARROW_TYPES:
            raise ValueError(f"column {self.name}: type {self.type} is not one of {_ARROW_TYPES}")


@dataclass(frozen=True)
class Table:
    """A read-model table: keyed (one row per `key`) or a log (rows only appended)."""

    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    order: tuple[str, ...] = ()  # the row order in checkpoints (the key, if unset)

    @property
    def keyed(self) -> bool:
        """True if the table holds one row per key."""
        return self.key is not None

    @property
    def sort(self) -> tuple[str, ...]:
        """The columns rows are sorted by when written, so equal states give equal files."""
        return self.order or ((self.key,) if self.key else ())

    @functools.cached_property
    def key_index(self) -> int:
        """The position of the key column in a row."""
        names = [column.name for column in self.columns]
        return names.index(self.key) if self.key else -1

    def describe(self) -> list[list[str]]:
        """The schema as JSON-ready pairs (part of a projection's fingerprint)."""
        return [[column.name, column.type] for column in self.columns]

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema rows are handed to DuckDB in."""
        import pyarrow as pa

        types = {
            "VARCHAR": pa.string(),
            "BIGINT": pa.int64(),
            "BOOLEAN": pa.bool_(),
            "DOUBLE": pa.float64(),
            "VARCHAR[]": pa.list_(pa.string()),
        }
        return pa.schema([(column.name, types[column.type]) for column in self.columns])

    def to_arrow(self, rows: list[Row]) -> pa.Table:
        """Rows (tuples in column order) as an Arrow table of this schema."""
        import pyarrow as pa

        schema = self.arrow_schema()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in self.columns]
        arrays = [
            pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=schema)


@dataclass
class TableChanges:
    """What a run of records did to one table: rows set or removed by key, or appended."""

    table: Table
    upserts: dict[Any, Row | None] = field(default_factory=dict)
    appended: list[Row] = field(default_factory=list)

    def put(self, row: Row) -> None:
        """Set a keyed table's row (under its key) or append a log table's row."""
        if self.table.key is None:
            self.appended.append(row)
        else:
            self.upserts[row[self.table.key_index]] = row

    def remove(self, key: Any) -> None:
        """Remove a keyed table's row."""
        self.upserts[key] = None

    def rows(self) -> list[Row]:
        """The rows set or appended (removed keys are left out)."""
        if self.table.key is None:
            return self.appended
        return [row for row in self.upserts.values() if row is not None]

    def touched(self) -> list[Any]:
        """Every key set or removed: base rows under these keys are overridden."""
        return list(self.upserts)

    def __len__(self) -> int:
        return len(self.upserts) + len(self.appended)
