"""Tables: what a projection keeps, as columns, and the changes a run of records makes.

A *keyed* table holds one row per key, the latest winning (a row of ``None`` removes the
key); a *log* table only ever grows. Rows are plain tuples in column order, gathered in
Python while records are applied and handed to DuckDB as Arrow tables in one go.

`put` and `append` check each row against the columns first (`Table.check`): a value its
column cannot hold (an int beyond BIGINT, a number where text belongs) is refused while
its record is being applied, so the projection's policy deals with that one record. Found
only when the rows are handed to Arrow, it would fail every read of every table.
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

Row = tuple[Any, ...]

# DuckDB type -> how its values are handed over in Arrow (built lazily: pyarrow is heavy)
_ARROW_TYPES = ("VARCHAR", "BIGINT", "BOOLEAN", "DOUBLE", "VARCHAR[]")
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
_DOUBLE_INT = 2**53  # Arrow refuses an int beyond this for a DOUBLE: it would be rounded
# what a value of each column type must be, besides NULL: exactly what Arrow takes
_FITS = {
    "VARCHAR": "{v}.__class__ is str",
    "BIGINT": f"({{v}}.__class__ is int and {BIGINT_MIN} <= {{v}} <= {BIGINT_MAX})",
    "BOOLEAN": "{v}.__class__ is bool",
    "DOUBLE": f"({{v}}.__class__ is float or ({{v}}.__class__ is int and "
    f"{-_DOUBLE_INT} <= {{v}} <= {_DOUBLE_INT}))",
    "VARCHAR[]": "({v}.__class__ is list and _texts({v}))",
}


def _texts(value: list[Any]) -> bool:
    for item in value:  # noqa: SIM110 - a plain loop: all() of a generator costs twice this
        if item is not None and item.__class__ is not str:
            return False
    return True


def _fits(types: tuple[str, ...]) -> Callable[..., bool]:
    """A function of one row's values telling whether each fits its column type.

    Compiled from fixed templates (no name or value of any table goes into the source)
    into one expression, because it runs for every row of every record folded: a loop
    calling a check per column cost 2.5 times as much, a fifth of a fold's time.
    """
    names = [f"v{index}" for index in range(len(types))]
    tests = [
        f"({name} is None or {_FITS[kind].format(v=name)})"
        for name, kind in zip(names, types, strict=True)
    ]
    source = f"def fits({', '.join(names)}):\n    return {' and '.join(tests) or 'True'}\n"
    scope: dict[str, Any] = {"_texts": _texts}
    exec(compile(source, f"<row check of {len(types)} columns>", "exec"), scope)
    fits: Callable[..., bool] = scope["fits"]
    return fits


def _builder(table: str, names: tuple[str, ...]) -> Callable[..., Row]:
    """A function of one keyword argument per column returning them as a row, in order.

    Compiled, like `_fits`, because it runs for every row of every record folded: Python's
    own argument binding refuses a missing or unknown column (a TypeError naming it and,
    through the function's name, the table) at a fraction of what checking a dict costs.
    Only names that are Python identifiers go into the source, so none can inject code.
    """
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"table {table}: column {name!r} cannot be a keyword argument")
    if len(set(names)) != len(names):
        raise ValueError(f"table {table}: a column name repeats in {names}")
    listed = ", ".join(names)
    arguments = f"*, {listed}" if names else ""
    source = f"def row({arguments}):\n    return ({listed}{',' if names else ''})\n"
    scope: dict[str, Any] = {}
    exec(compile(source, f"<row builder of {len(names)} columns>", "exec"), scope)
    row: Callable[..., Row] = scope["row"]
    row.__qualname__ = f"Table({table!r}).row"  # what Python's TypeError names
    return row


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

    @functools.cached_property
    def row(self) -> Callable[..., Row]:
        """Build a row by column name: ``row(uid=..., rev=...)`` -> the tuple in column order.

        Every column must be given, by keyword, and no other: a missing or unknown one is
        a TypeError naming it and the table. Values are not checked here (`check` is).
        """
        return _builder(self.name, tuple(column.name for column in self.columns))

    @functools.cached_property
    def _fits(self) -> Callable[..., bool]:
        return _fits(tuple(column.type for column in self.columns))

    def check(self, row: Row) -> None:
        """Refuse (ValueError naming the column) a row these columns cannot hold."""
        try:
            if self._fits(*row):
                return
        except TypeError:  # a row of the wrong length
            pass
        raise ValueError(self._misfit(row))

    def _misfit(self, row: Row) -> str:
        if len(row) != len(self.columns):
            return f"table {self.name}: a row of {len(row)} values for {len(self.columns)} columns"
        column, value = next(
            (column, value)
            for column, value in zip(self.columns, row, strict=True)
            if not _fits((column.type,))(value)
        )
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return f"table {self.name}: column {column.name} ({column.type}) cannot hold {shown}"

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

    def __post_init__(self) -> None:
        # looked up once: put and append run for every row of every record folded
        self._fits = self.table._fits
        self._key = self.table.key_index if self.table.keyed else None

    def put(self, row: Row) -> None:
        """Set a keyed table's row (under its key) or append a log table's row, once checked."""
        if len(row) != len(self.table.columns) or not self._fits(*row):
            self.table.check(row)  # raises, naming the column
        if self._key is None:
            self.appended.append(row)
        else:
            self.upserts[row[self._key]] = row

    def append(self, row: Row) -> None:
        """Append a log table's row, once checked."""
        if len(row) != len(self.table.columns) or not self._fits(*row):
            self.table.check(row)
        self.appended.append(row)

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


def quote(name: str) -> str:
    """`name` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"
