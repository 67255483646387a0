"""Read-only SQL over the read models: a locked-down connection, a guard, and a runner.

Three layers; each stops the common attacks alone, and together they stop the rest:

1. `connect` opens an in-memory DuckDB that cannot reach the outside world: no extension
   install or autoload, no Python replacement scans, no file access outside
   `allowed_directories`, no spilling to disk, and a locked configuration.
2. `check_select` (projections/_guard.py) parses the text with DuckDB's own parser and
   accepts exactly one SELECT that reads only the read models.
3. `run` executes an accepted SELECT under a time limit (`con.interrupt()` from a watchdog
   thread, and DuckDB's own `max_execution_time` behind it) and a row and byte cap,
   streaming at most `max_rows + 1` rows to decide `truncated`.

Views over Parquet files in the allowed directories, and Arrow tables registered with
`con.register`, can be added after `connect` returns: `lock_configuration` freezes the
settings, not the catalog. Tables the caller copies in itself (the read models' tails) are
best loaded by `connect`'s `load` step, before the lock: `memory_limit` then bounds what
queries use on top of them, whatever the tail's size. A connection runs one query at a
time; give each thread its own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from projections._errors import QueryFailed, ResultTooLarge
from projections._guard import check_select

_BATCH_ROWS = 65_536
# Under a byte cap, a batch is materialised whole before it can be counted, so its size
# must stay small beside the cap. A row of fixed-width columns is at most _FIXED_WIDTH
# bytes a column; a row with a string, list or struct can be any size (a 10,000-element
# list is 80 KB; at 10,001 rows a batch, `SELECT [x for x in range(10000)] FROM
# range(100000)` took 2.6 GB to keep 32 MB: tools/bench/sql_memory_bench.py), so such
# rows come _WIDE_BATCH_ROWS at a time (10,000 narrow rows: 2.7 ms at 64, 7.3 ms at 16).
_WIDE_BATCH_ROWS = 16
_FIXED_WIDTH = 48  # bytes: a UUID is a 36-character string in Arrow, the widest of them
_FIXED = frozenset(
    {
        *("tinyint", "smallint", "integer", "bigint", "hugeint", "float", "double", "decimal"),
        *("utinyint", "usmallint", "uinteger", "ubigint", "uhugeint", "boolean", "uuid", "null"),
        *("date", "time", "time with time zone", "interval", "timestamp", "timestamp_s"),
        *("timestamp_ms", "timestamp_ns", "timestamp with time zone"),
    }
)
_REINTERRUPT_SECONDS = 0.05
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b)?\s*", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


# DuckDB types that Arrow cannot hold as they are: DuckDB hands a UHUGEINT over as a
# decimal(38) (2**128 - 1 arrives as -1), a TIME WITH TIME ZONE without its offset, a BIT
# and a VARINT as their internal bytes. A column of one (at any depth) is fetched as
# DuckDB's own text of it; its type in `columns` stays DuckDB's.
_AS_TEXT = frozenset({"uhugeint", "time with time zone", "bit", "bignum", "varint"})


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of one query: (name, DuckDB type) per column, the Arrow table, and a flag.

    `rows()` gives them as tuples of JSON values, as `lakehouse sql --format json` prints
    them (the rules are in projections/_values.py); `watermark` is the seq of the read
    models they were read from, when the caller knows it.
    """

    columns: list[tuple[str, str]]
    table: pa.Table
    truncated: bool
    watermark: int | None = None

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as tuples of JSON values, in column order (repeated names kept)."""
        from projections._encode import Encoding

        return [tuple(row) for row in Encoding(self.columns, self.table).rows(self.table)]


def connect(
    *,
    allowed_directories: Sequence[Path] = (),
    search_path: Path | None = None,
    memory_limit: str = "1GB",
    threads: int = 2,
    max_execution_time: float | None = None,
    load: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB that reads files only under `allowed_directories`, locked.

    `search_path` is where relative file names resolve (DuckDB's `file_search_path`), so
    views can name their files without naming the machine's paths; an allowed directory
    under it is allowed by its relative name too, since DuckDB checks a name both as
    written and once resolved.
    `max_execution_time` (seconds) is DuckDB's own limit on every query of the database,
    a backstop behind `run`'s watchdog; it also counts the time a caller takes to fetch.
    `load(con)` runs before anything is locked, to copy in the caller's own tables; the
    memory they take is added to `memory_limit`, which is what queries may use beyond it
    (a tail of many records would otherwise leave no room, or fail to load at all).
    """
    limit = _bytes(memory_limit)
    limits: dict[str, Any] = {}
    if max_execution_time is not None:
        limits["max_execution_time"] = max(1, round(max_execution_time * 1000))
    if load is None:
        limits["memory_limit"] = memory_limit
    if search_path is not None:  # a global setting: every cursor resolves names the same way
        limits["file_search_path"] = str(Path(search_path).absolute())
    con = duckdb.connect(
        ":memory:",
        config={
            # nothing may be fetched or loaded behind a query's back
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
            # `FROM some_variable` must not read a Python object from the caller's frames
            "python_enable_replacements": False,
            # no spilling: a query over the memory limit fails instead of writing to disk,
            # and cwd/.tmp is not added to the readable directories
            "temp_directory": "",
            "threads": threads,
            **limits,
        },
    )
    try:
        # allowed_directories can only be set once the database has started, and only
        # while external access is still on; lock_configuration must come last
        con.execute("SET allowed_directories = ?", [_allowed(allowed_directories, search_path)])
        if load is not None:
            load(con)
            held = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
            used = int(held[0] or 0) if held else 0
            con.execute(f"SET memory_limit = '{used + limit}B'")
        con.execute("SET max_temp_directory_size = '0B'")
        con.execute("SET enable_external_access = false")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _allowed(directories: Sequence[Path], search_path: Path | None) -> list[str]:
    """The absolute directories, and those under `search_path` by their relative name."""
    absolute = [Path(directory).absolute() for directory in directories]
    allowed = [str(directory) for directory in absolute]
    if search_path is not None:
        base = Path(search_path).absolute()
        allowed += [d.relative_to(base).as_posix() for d in absolute if d.is_relative_to(base)]
    return allowed


def _bytes(size: str) -> int:
    """A DuckDB size setting ('1GB', '256 MiB', '512KB') in bytes; GB is 10**9, GiB 2**30."""
    found = _SIZE.fullmatch(size)
    if found is None:
        raise ValueError(f"memory_limit {size!r} is not a size such as '1GB' or '512MiB'")
    return int(float(found.group(1)) * _UNITS[(found.group(2) or "b").lower()])


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] = (),
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
    charge: Callable[[int], None] | None = None,
) -> QueryResult:
    """Run one read-only SELECT with a time limit, a row and a byte cap (Arrow bytes).

    Failures raise QueryFailed; a result cut at a cap has `truncated` set, and one whose
    first row alone is over `max_bytes` raises ResultTooLarge. `charge(n)` is called with
    the bytes of each batch before it is kept (at most `max_bytes` in all), and may raise
    to stop the query: a budget shared by concurrent queries. Beyond what is kept, one
    batch is held while it arrives: 16 rows if any column is of variable width.
    """
    if max_rows is not None and max_rows < 0:
        raise ValueError(f"max_rows must be 0 or more, not {max_rows}")
    if max_bytes is not None and max_bytes < 1:
        raise ValueError(f"max_bytes must be 1 or more, not {max_bytes}")
    text = check_select(sql)
    with _Watchdog(con, timeout) as watchdog:
        try:
            relation = con.sql(text, params=list(params))
            relation_names = list(relation.columns)
            columns = [
                (name, str(kind))
                for name, kind in zip(relation.columns, relation.types, strict=True)
            ]
            relation = _arrow_safe(relation)
            table, truncated = _fetch(relation, max_rows, max_bytes, charge)
            if table.column_names != relation_names:  # a projection renames repeats
                table = table.rename_columns(relation_names)
        # a stream reader reports DuckDB's errors (an interrupt too) as OSError
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise _failed(exc, timeout if watchdog.fired else None) from exc
    return QueryResult(columns=columns, table=table, truncated=truncated)


def _fetch(
    relation: duckdb.DuckDBPyRelation,
    max_rows: int | None,
    max_bytes: int | None,
    charge: Callable[[int], None] | None,
) -> tuple[pa.Table, bool]:
    """Stream at most `max_rows + 1` rows and `max_bytes`, never the whole result."""
    limit = _BATCH_ROWS if max_bytes is None else _capped_batch_rows(relation, max_bytes)
    batch_rows = limit if max_rows is None else max(1, min(max_rows + 1, limit))
    reader = relation.to_arrow_reader(batch_rows)
    schema = reader.schema
    batches: list[pa.RecordBatch] = []
    seen = size = 0
    cut = False
    try:
        for batch in reader:
            if max_bytes is not None and size + batch.nbytes > max_bytes:
                fit = _rows_that_fit(batch, max_bytes - size)
                if fit == 0 and seen == 0:
                    raise _too_large(max_bytes)
                # a copy of the rows kept, or the slice would hold the whole batch's buffers
                kept = batch.take(pa.array(range(fit), type=pa.int64()))
                if charge is not None:
                    charge(kept.nbytes)
                batches.append(kept)
                seen, cut = seen + fit, True
                break
            if charge is not None:
                charge(batch.nbytes)
            batches.append(batch)
            seen += batch.num_rows
            size += batch.nbytes
            if max_rows is not None and seen > max_rows:
                break
    finally:
        # DuckDB 2 refuses the next query on a connection whose result is still open
        reader.close()
    table = pa.Table.from_batches(batches, schema=schema)
    if max_rows is not None and seen > max_rows:
        return table.slice(0, max_rows), True
    return table, cut


def _arrow_safe(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The relation with every column Arrow cannot hold cast to text (see _AS_TEXT).

    Columns are named by position (`#2`), so repeated names stay as they were.
    """
    casts = [_text_type(kind) for kind in relation.types]
    if all(cast is None for cast in casts):
        return relation
    exprs = [
        f"#{i}" if cast is None else f"CAST(#{i} AS {cast}) AS {_quote(name)}"
        for i, (name, cast) in enumerate(zip(relation.columns, casts, strict=True), 1)
    ]
    return relation.project(", ".join(exprs))


def _text_type(kind: Any) -> str | None:  # noqa: PLR0911 - a return per kind of type
    """The type to cast a column of `kind` to so Arrow holds it (None: as it is)."""
    if kind.id in _AS_TEXT:
        return "VARCHAR"
    if kind.id in ("list", "array"):
        inner = _text_type(kind.children[0][1])
        if inner is None:
            return None
        return f"{inner}[]" if kind.id == "list" else f"{inner}[{kind.children[1][1]}]"
    if kind.id not in ("struct", "map", "union"):
        return None
    casts = [(name, _text_type(child), child) for name, child in kind.children]
    if all(cast is None for _, cast, _ in casts):
        return None
    if kind.id == "union":
        return "VARCHAR"  # a member cannot be cast alone
    types = [cast or str(child) for _, cast, child in casts]
    if kind.id == "map":
        return f"MAP({types[0]}, {types[1]})"
    fields = ", ".join(
        f"{_quote(name)} {cast}" for (name, _, _), cast in zip(casts, types, strict=True)
    )
    return f"STRUCT({fields})"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _capped_batch_rows(relation: duckdb.DuckDBPyRelation, max_bytes: int) -> int:
    """Rows a batch may hold under a cap of `max_bytes`: an eighth of it at the widest."""
    if not all(kind.id in _FIXED for kind in relation.types):
        return _WIDE_BATCH_ROWS
    widest = _FIXED_WIDTH * max(1, len(relation.types))
    return max(_WIDE_BATCH_ROWS, min(2048, max_bytes // 8 // widest))


def _rows_that_fit(batch: pa.RecordBatch, room: int) -> int:
    """How many of the batch's first rows take at most `room` bytes (rows differ in size)."""
    low, high = 0, batch.num_rows  # the first `low` rows fit; the first `high + 1` do not
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _too_large(max_bytes: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"one row of the result is over the cap of {max_bytes:,} bytes an answer may hold",
        hint="select fewer or narrower columns (cut long values with left(x, n)), "
        "or aggregate before returning them",
        limit=max_bytes,
    )


def _failed(exc: Exception, timeout: float | None) -> QueryFailed:
    """Translate a DuckDB or Arrow error; `timeout` is set when the watchdog stopped it."""
    if timeout is None and "maximum execution time" in str(exc):
        return QueryFailed(
            "the query was stopped at the database's time limit",
            hint="narrow the query: filter with WHERE, add a LIMIT, or aggregate before joining",
            error="max_execution_time",
        )
    if timeout is not None:
        return QueryFailed(
            f"the query was stopped at its time limit of {timeout:g} s",
            hint="narrow the query: filter with WHERE, add a LIMIT, or aggregate before joining",
            timeout=timeout,
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        hint = "the query needs more memory than allowed; aggregate or filter earlier"
    else:
        hint = "check the names with 'SHOW TABLES' and 'DESCRIBE <table>'"
    return QueryFailed(f"the query failed: {exc}", hint=hint, error=type(exc).__name__)


class _Watchdog:
    """Interrupts the connection's query after `timeout` seconds, until the block ends."""

    def __init__(self, con: duckdb.DuckDBPyConnection, timeout: float | None) -> None:
        self.fired = False
        self._con = con
        self._timeout = timeout
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sql-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        if self._timeout is not None:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._timeout is not None:
            self._thread.join()

    def _watch(self) -> None:
        # An interrupt that lands between binding and execution is ignored by DuckDB, so
        # keep interrupting until the query's block ends rather than firing once.
        if self._done.wait(self._timeout):
            return
        self.fired = True
        while True:
            self._con.interrupt()
            if self._done.wait(_REINTERRUPT_SECONDS):
                return
