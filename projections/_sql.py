"""Read-only SQL over the read models: a locked-down connection, a guard, and a runner.

Three layers; each stops the common attacks alone, and together they stop the rest:

1. `connect` opens an in-memory DuckDB that cannot reach the outside world: no extension
   install or autoload, no Python replacement scans, no file access outside
   `allowed_directories`, no spilling to disk, and a locked configuration.
2. `check_select` parses the text with DuckDB's own parser and accepts exactly one SELECT
   whose table functions are on an allowlist and which names no file, URL, internal view
   or function that reveals configuration or changes state, and whose list and string
   builders (`range(n)`, `repeat(s, n)`, ...) get sizes it can bound (see `BUILDERS`).
3. `run` executes an accepted SELECT under a time limit (`con.interrupt()` from a watchdog
   thread, and DuckDB's own `max_execution_time` behind it) and a row and byte cap,
   streaming at most `max_rows + 1` rows to decide `truncated`.

Views over Parquet files in the allowed directories, and Arrow tables registered with
`con.register`, can be added after `connect` returns: `lock_configuration` freezes the
settings, not the catalog. A connection runs one query at a time; give each thread its own.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from projections._errors import QueryFailed, QueryRefused

HINT = "run one SELECT over the read models; see 'lakehouse sql --help' for the tables"

# Table functions that read nothing but their arguments or our own catalog. Everything
# else is refused: the file readers (read_*, glob, parquet_*, sniff_csv), the ones that
# reveal settings or state (duckdb_settings, duckdb_secrets, duckdb_databases, pragma_*),
# the ones that run SQL given as a string (query, query_table, json_execute_serialized_sql)
# and the Python scans that take raw pointers (arrow_scan, pandas_scan).
SAFE_TABLE_FUNCTIONS = frozenset(
    [
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "generate_series",
        "json_each",
        "json_tree",
        "range",
        "repeat",
        "repeat_row",
        "unnest",
    ]
)

# Scalar functions are too many to allowlist; these are the ones (DuckDB 2.0.1) that read
# configuration or variables, bind SQL given as a string, write logs, change state, sleep,
# or build internal values from raw bytes. There is no scalar that reads a file.
DENIED_FUNCTIONS = frozenset(
    [
        "current_setting",
        "currval",
        "getenv",
        "getvariable",
        "json_serialize_plan",
        "nextval",
        "pg_sleep",
        "setseed",
        "setval",
        "sleep_ms",
        "to_aggregate_state",
        "write_log",
    ]
)
_DENIED_PREFIX = "__internal"

# DuckDB's own views that show only the catalog; its other internal views (pg_settings,
# duckdb_databases, duckdb_logs, pragma_database_list, ...) are refused by name.
SAFE_INTERNAL_VIEWS = frozenset(
    [
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_indexes",
        "duckdb_schemas",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
    ]
)
_SAFE_SHOW = frozenset({'"tables"', "__show_tables_expanded"})  # SHOW TABLES, SHOW ALL TABLES
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BATCH_ROWS = 65_536
_REINTERRUPT_SECONDS = 0.05

# Scalar functions whose result size is set by an argument rather than by their input:
# function -> the argument that sets the size (None: range's count, from all arguments).
# DuckDB builds such a value in one go, neither checking for an interrupt nor counting it
# against memory_limit (on 2.0.1, `len(range(1e9))` runs for a minute and takes 8 GB,
# whatever the watchdog does), so the guard wants each size as a number it can read.
BUILDERS: dict[str, int | None] = {
    "array_resize": 1,
    "generate_series": None,
    "list_resize": 1,
    "lpad": 1,
    "range": None,
    "repeat": 1,
    "rpad": 1,
}
FORMATTERS = frozenset({"format", "printf"})  # a width in the format string sets the size
MAX_BUILT = 1_000_000  # elements or characters, when every argument is a literal (built once)
MAX_BUILT_PER_ROW = 10_000  # otherwise the call runs per row, 2,048 rows to a vector
MAX_REPEAT_PER_ROW = 16  # repeat(column, n): the output is n times the input
_WIDTH = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of one query: (name, DuckDB type) per column, the Arrow table, and a flag."""

    columns: list[tuple[str, str]]
    table: pa.Table
    truncated: bool


def connect(
    *,
    allowed_directories: Sequence[Path] = (),
    memory_limit: str = "1GB",
    threads: int = 2,
    max_execution_time: float | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB that reads files only under `allowed_directories`, locked.

    `max_execution_time` (seconds) is DuckDB's own limit on every query of the database,
    a backstop behind `run`'s watchdog; it also counts the time a caller takes to fetch.
    """
    limits: dict[str, Any] = {}
    if max_execution_time is not None:
        limits["max_execution_time"] = max(1, round(max_execution_time * 1000))
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
            "memory_limit": memory_limit,
            "threads": threads,
            **limits,
        },
    )
    try:
        # allowed_directories can only be set once the database has started, and only
        # while external access is still on; lock_configuration must come last
        directories = [str(Path(directory).absolute()) for directory in allowed_directories]
        con.execute("SET allowed_directories = ?", [directories])
        con.execute("SET max_temp_directory_size = '0B'")
        con.execute("SET enable_external_access = false")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def check_select(sql: str) -> str:
    """Return the one read-only SELECT in `sql`, stripped, or raise QueryRefused."""
    text = _without_tail(_one_statement(sql))
    table_calls: set[int] = set()  # the function dicts of table functions (no sizes)
    for node in _nodes(_syntax_tree(text)):
        _check_node(node)
        if node.get("type") == "TABLE_FUNCTION":
            table_calls.add(id(node.get("function")))
        elif node.get("class") == "FUNCTION" and id(node) not in table_calls:
            _check_size(node)
        elif node.get("class") == "LAMBDA":
            _check_lambda(node)
    return text


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] = (),
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> QueryResult:
    """Run one read-only SELECT with a time limit, a row and a byte cap (Arrow bytes).

    Failures raise QueryFailed; a result cut at a cap has `truncated` set.
    """
    if max_rows is not None and max_rows < 0:
        raise ValueError(f"max_rows must be 0 or more, not {max_rows}")
    if max_bytes is not None and max_bytes < 1:
        raise ValueError(f"max_bytes must be 1 or more, not {max_bytes}")
    text = check_select(sql)
    with _Watchdog(con, timeout) as watchdog:
        try:
            relation = con.sql(text, params=list(params))
            columns = [
                (name, str(kind))
                for name, kind in zip(relation.columns, relation.types, strict=True)
            ]
            table, truncated = _fetch(relation, max_rows, max_bytes)
        # a stream reader reports DuckDB's errors (an interrupt too) as OSError
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise _failed(exc, timeout if watchdog.fired else None) from exc
    return QueryResult(columns=columns, table=table, truncated=truncated)


class _Parser(NamedTuple):
    con: duckdb.DuckDBPyConnection
    internal_views: dict[str, frozenset[str]]  # lower-case view names by schema


# DuckDB connections are not safe to share between threads: hold this while parsing.
_PARSER_LOCK = threading.Lock()


@functools.cache
def _parser() -> _Parser:
    """The private parse-only connection (json_serialize_sql is built in, no load needed)."""
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "enable_external_access": False,
        },
    )
    rows = con.execute(
        "SELECT lower(schema_name), list(lower(view_name)) FROM duckdb_views() "
        "WHERE internal GROUP BY ALL"
    ).fetchall()
    return _Parser(con, {schema: frozenset(names) for schema, names in rows})


def _one_statement(sql: str) -> str:
    """The text of the single SELECT statement in `sql`."""
    try:
        with _PARSER_LOCK:
            statements = _parser().con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"the query does not parse: {exc}", hint=HINT, sql=sql) from exc
    if not statements:
        raise QueryRefused("the query is empty", hint=HINT, sql=sql)
    if len(statements) > 1:
        raise QueryRefused(
            f"the query holds {len(statements)} statements; only one is accepted",
            hint=HINT,
            statements=len(statements),
        )
    statement = statements[0]
    try:
        kind = statement.type.name
    except ValueError:  # a type the Python binding cannot name (UPDATE EXTENSIONS)
        kind = "UNKNOWN"
    if kind != "SELECT":
        raise QueryRefused(
            f"{kind} statements are refused ({_snippet(statement.query)}); only SELECT runs",
            hint=HINT,
            statement=kind,
        )
    return statement.query


def _without_tail(text: str) -> str:
    """`text` stripped of the semicolons and comments that end it."""
    data = text.encode()  # tokenize gives byte offsets
    end = len(data)
    for start, kind in reversed(duckdb.tokenize(text)):
        if kind == duckdb.token_type.comment or (
            kind == duckdb.token_type.operator and data[start : start + 1] == b";"
        ):
            end = start
        else:
            break
    return data[:end].decode().strip()


def _syntax_tree(text: str) -> Any:
    """DuckDB's parse tree of one SELECT, as decoded JSON."""
    with _PARSER_LOCK:
        row = _parser().con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True, "error_message": "no parse tree"}
    if tree.get("error"):
        message = tree.get("error_message", "unknown error")
        raise QueryRefused(f"the query does not parse: {message}", hint=HINT, sql=text)
    return tree["statements"]


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object in the parse tree, walked without recursion (trees can be deep)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_node(node: dict[str, Any]) -> None:
    """Refuse a table function, table, SHOW or function the guard does not allow."""
    kind = node.get("type")
    if kind == "TABLE_FUNCTION":
        _check_table_function(node.get("function") or {})
    elif kind == "BASE_TABLE":
        _check_table(node.get("catalog_name", ""), node.get("schema_name", ""), node["table_name"])
    elif kind == "SHOW_REF":
        _check_show(node)
    name = node.get("function_name")
    if isinstance(name, str) and _is_denied_function(name.lower()):
        raise QueryRefused(
            f"function {name}() is refused: it reads settings, changes state or is internal",
            hint=HINT,
            function=name,
        )


def _is_denied_function(name: str) -> bool:
    """Whether a (lower-case) function name is denied outright."""
    return name in DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIX)


def _check_table_function(function: dict[str, Any]) -> None:
    """Refuse a table function that is not on the allowlist."""
    name = str(function.get("function_name", "?"))
    if function.get("class") == "FUNCTION" and name.lower() in SAFE_TABLE_FUNCTIONS:
        return
    allowed = ", ".join(sorted(SAFE_TABLE_FUNCTIONS))
    raise QueryRefused(
        f"table function {name}() is refused: files and settings cannot be read from SQL",
        hint=f"query the read models by name; the table functions allowed are {allowed}",
        function=name,
    )


def _check_table(catalog: str, schema: str, table: str) -> None:
    """Refuse a table reference that could be a file, a URL or a revealing internal view."""
    shown = ".".join(part for part in (catalog, schema, table) if part)
    if not _IDENTIFIER.fullmatch(table) or (schema and not _IDENTIFIER.fullmatch(schema)):
        reason = "files, globs and URLs cannot be read directly"
    elif catalog or (schema and schema.lower() != "information_schema"):
        # DuckDB reads `main.csv` or `x.parquet` as a file when no such table exists
        reason = "only information_schema may qualify a name; write the table name alone"
    elif schema and table.lower() not in _parser_views("information_schema"):
        reason = "it is not an information_schema view"
    elif not schema and _is_revealing_view(table.lower()):
        reason = "this internal view shows settings or databases"
    else:
        return
    raise QueryRefused(
        f"table {shown!r} is refused: {reason}",
        hint=f"{HINT}; 'SHOW TABLES' lists them",
        table=shown,
    )


def _check_show(node: dict[str, Any]) -> None:
    """Allow DESCRIBE, SUMMARIZE and SHOW TABLES; refuse SHOW of a setting."""
    show_type = node.get("show_type")
    name = str(node.get("table_name") or "")
    if show_type in ("DESCRIBE", "SUMMARY"):
        if name:
            _check_table(node.get("catalog_name", ""), node.get("schema_name", ""), name)
        return
    if show_type == "SHOW_SPECIAL" and name in _SAFE_SHOW:
        return
    shown = name.strip('"')
    raise QueryRefused(
        f"SHOW {shown} is refused: settings and databases are not shown",
        hint=f"use 'SHOW TABLES' or 'DESCRIBE <table>'; {HINT}",
        statement="SHOW",
    )


def _parser_views(schema: str) -> frozenset[str]:
    """DuckDB's internal view names in `schema`, lower-case."""
    with _PARSER_LOCK:
        return _parser().internal_views.get(schema, frozenset())


def _is_revealing_view(name: str) -> bool:
    """Whether an unqualified `name` is one of DuckDB's internal views not on the allowlist."""
    with _PARSER_LOCK:
        views = _parser().internal_views
    return name not in SAFE_INTERNAL_VIEWS and any(
        name in names for schema, names in views.items() if schema != "information_schema"
    )


def _check_size(node: dict[str, Any]) -> None:
    """Refuse a builder or formatter whose output size the guard cannot bound."""
    name = str(node.get("function_name", "")).lower()
    if name not in BUILDERS and name not in FORMATTERS:
        return
    args = [_argument(item) for item in node.get("arguments") or node.get("children") or []]
    literal = all(_is_literal(arg) for arg in args)
    if name in FORMATTERS:
        size = _format_width(name, args[0] if args else None)
    elif BUILDERS[name] is None:
        size = _range_size(args)
    else:
        size = _size_argument(name, args, BUILDERS[name] or 0, literal)
    limit = MAX_BUILT if literal else MAX_BUILT_PER_ROW
    if size is None or not 0 <= size <= limit:
        raise QueryRefused(
            f"{name}() is refused here: it builds its value in one go, so its size must be a "
            f"number in the query, at most {MAX_BUILT:,} (with literal arguments) or "
            f"{MAX_BUILT_PER_ROW:,} (per row)",
            hint="for many rows use the table function: SELECT range FROM range(1000000)",
            function=name,
            limit=limit,
        )


def _check_lambda(node: dict[str, Any]) -> None:
    """Refuse a builder inside a lambda: it would run once per element of a list."""
    for inner in _nodes(node.get("expr")):
        name = str(inner.get("function_name", "")).lower()
        if inner.get("class") == "FUNCTION" and (name in BUILDERS or name in FORMATTERS):
            raise QueryRefused(
                f"{name}() is refused inside a lambda: it would build a value per element",
                hint="build the values with a table function and aggregate them instead",
                function=name,
            )


def _argument(item: Any) -> Any:
    """A function argument's expression (DuckDB 2 wraps each in {"name", "expression"})."""
    return item.get("expression", item) if isinstance(item, dict) else item


def _is_literal(expr: Any) -> bool:
    return isinstance(expr, dict) and (
        expr.get("class") == "CONSTANT"
        or (expr.get("class") == "CAST" and _is_literal(expr["child"]))
    )


def _literal_text(expr: Any) -> str | None:
    """The text of a literal (through casts), or None for anything else."""
    while isinstance(expr, dict) and expr.get("class") == "CAST":
        expr = expr.get("child")
    if not isinstance(expr, dict) or expr.get("class") != "CONSTANT":
        return None
    literal = expr.get("literal") or {}
    if "text" in literal:
        return str(literal["text"]) if literal.get("kind") != "NULL_LITERAL" else None
    value = (expr.get("value") or {}).get("value")  # DuckDB 1.x's serialisation
    return None if value is None else str(value)


def _number(expr: Any) -> float | None:
    """The value of a numeric literal (through casts and a unary minus), else None."""
    if isinstance(expr, dict) and expr.get("function_name") == "-":
        args = [_argument(item) for item in expr.get("arguments") or expr.get("children") or []]
        inner = _number(args[0]) if len(args) == 1 else None
        return None if inner is None else -inner
    text = _literal_text(expr)
    try:
        return None if text is None else float(text.replace("_", ""))
    except ValueError:
        return None


def _range_size(args: list[Any]) -> float | None:
    """How many elements range/generate_series(start, stop, step) makes, from literals."""
    numbers = [number for number in map(_number, args) if number is not None]
    if not 1 <= len(numbers) == len(args) <= 3:
        return None
    start, stop = (0.0, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    step = numbers[2] if len(numbers) == 3 else 1.0
    return 0.0 if step == 0 else max(0.0, (stop - start) / step)


def _size_argument(name: str, args: list[Any], index: int, literal: bool) -> float | None:
    """The size a builder's argument sets; repeat multiplies its input by it."""
    size = _number(args[index]) if index < len(args) else None
    if size is None or name != "repeat":
        return size
    text = _literal_text(args[0])
    if literal and text is not None:
        return size * max(1, len(text))
    return size if size <= MAX_REPEAT_PER_ROW else None  # n copies of a column's value


def _format_width(name: str, expr: Any) -> float | None:
    """The widest width or precision in a literal format string (None: not bounded)."""
    text = _literal_text(expr)
    if text is None or "*" in text or re.search(r"\{[^}]*\{", text):
        return None  # not a literal, or a width taken from an argument
    if name == "printf":
        specs = re.findall(r"%([^a-zA-Z%]*)", text)
    else:
        specs = [spec.partition(":")[2] for spec in re.findall(r"\{([^{}]*)\}", text)]
    return max((float(digits) for spec in specs for digits in _WIDTH.findall(spec)), default=0.0)


def _snippet(text: str, limit: int = 60) -> str:
    """The statement on one line, cut to `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _fetch(
    relation: duckdb.DuckDBPyRelation, max_rows: int | None, max_bytes: int | None
) -> tuple[pa.Table, bool]:
    """Stream at most `max_rows + 1` rows (and about `max_bytes`), never the whole result."""
    batch_rows = _BATCH_ROWS if max_rows is None else max(1, min(max_rows + 1, _BATCH_ROWS))
    reader = relation.to_arrow_reader(batch_rows)
    schema = reader.schema
    batches: list[pa.RecordBatch] = []
    seen = size = 0
    cut = False
    try:
        for batch in reader:
            if max_bytes is not None and size + batch.nbytes > max_bytes:
                # keep the rows that fit, at this batch's average row size
                fit = (max_bytes - size) * batch.num_rows // max(1, batch.nbytes)
                batches.append(batch.slice(0, fit))
                seen, cut = seen + fit, True
                break
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
