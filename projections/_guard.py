"""The guard of read-only SQL: exactly one SELECT that reads only the read models.

`check_select` parses the text with DuckDB's own parser (a private parse-only connection)
and accepts exactly one SELECT whose table functions are on an allowlist and which names
no file, URL, internal view or function that reveals configuration or changes state, and
whose list and string builders (`range(n)`, `repeat(s, n)`, ...) get sizes it can bound
(see `BUILDERS`). Anything else is a `QueryRefused` naming what was refused.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

import duckdb

from projections._errors import QueryRefused

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
