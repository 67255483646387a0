"""Reading a CSV with DuckDB's reader, so a dataset holds what ``read_csv`` of the file gives.

DuckDB sniffs the dialect (delimiter, quoting) and the types (leading zeros stay text,
``2012/01/01`` is a DATE, mixed UTC offsets a TIMESTAMP WITH TIME ZONE, ``Yes``/``No`` a
BOOLEAN, an int beyond BIGINT a HUGEINT) and reads the empty field as NULL in every
column, text ones too; ``NA`` is text unless ``--null-value NA`` says otherwise. Its
rows come out as Arrow record batches for the object writer, whose fixed options keep
the bytes deterministic. Where this reader departs from a plain ``read_csv(file)``:

- the first line is the header and no line is skipped (``header=true, skip=0``): the
  sniffer would otherwise take a later line for the header of a ragged file and drop
  every row before it without a word;
- a one-column result whose header line splits on ``,``, tab, ``;`` or ``|`` is read
  again with that delimiter, so a ragged file is refused naming its line rather than
  ingested as one garbage column;
- a HUGEINT column is stored as DECIMAL(38,0) (Parquet has no 128-bit integer; DuckDB's
  own COPY would write a DOUBLE and round it), a value that needs more digits is
  refused, and so is a BIGNUM column (beyond HUGEINT), a float that overflowed to
  infinity from text that was a number (``1e400``) and an integer a DOUBLE column
  cannot hold exactly (lakehouse/catalog/_numbers.py): no value is stored that differs
  from its text without a word. ``--column NAME=VARCHAR`` keeps such a column as text.

The connection reads that one file and nothing else (``allowed_paths``), loads no
extension and pins what shapes the Arrow output (time zone UTC, plain Utf8 strings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from lakehouse._errors import InvalidInput
from lakehouse.catalog._batches import Source
from lakehouse.catalog._csv_errors import (
    MAX_ROW_BYTES,
    header_delimiter,
    located_ragged,
    refuse_long_lines,
    translated,
)
from lakehouse.catalog._csv_options import CsvOptions
from lakehouse.catalog._inputs import Input, refuse
from lakehouse.catalog._numbers import NumberCheck
from projections import literal, quote

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# the DuckDB types a column may be given (--column) and a dataset hold: each one's Arrow
# form is stored by Parquet as it is, and reads back as the same DuckDB type
COLUMN_TYPES = frozenset(
    {
        "boolean",
        "tinyint",
        "smallint",
        "integer",
        "bigint",
        "hugeint",
        "utinyint",
        "usmallint",
        "uinteger",
        "ubigint",
        "float",
        "double",
        "decimal",
        "varchar",
        "date",
        "time",
        "timestamp",
        "timestamp with time zone",
    }
)
STORED_AS = {"HUGEINT": "DECIMAL(38,0)"}  # Parquet has no 128-bit integer
FLOATS = frozenset({"FLOAT", "DOUBLE"})
STREAM_BUFFER = "64MiB"  # how far DuckDB may parse ahead of the writer (default 10 MiB)
COLUMN_HINT = "give the column a type with --column {name}=VARCHAR (keeps the text)"


def csv_options(
    delimiter: str | None, null_values: list[str] | None, columns: Mapping[str, str] | None
) -> CsvOptions:
    """CsvOptions with each column type checked and spelled as DuckDB spells it."""
    typed = tuple((name, column_type(name, text)) for name, text in (columns or {}).items())
    nulls = None if null_values is None else tuple(null_values)
    return CsvOptions(delimiter, nulls, typed)


def column_type(name: str, text: str) -> str:
    """DuckDB's spelling of the type `text` (INT -> INTEGER); InvalidInput if not allowed."""
    import duckdb

    shown = f"--column {name}={text}"
    try:
        kind = duckdb.sqltype(text)
    except duckdb.Error as error:
        reason = str(error).splitlines()[0]
        raise InvalidInput(
            f"{shown}: {text!r} is not a DuckDB type ({reason})",
            hint="name a type such as VARCHAR, BIGINT, DOUBLE, DECIMAL(18,2), DATE, TIMESTAMP",
            field="columns",
            column=name,
        ) from error
    if kind.id not in COLUMN_TYPES:
        raise InvalidInput(
            f"{shown}: a dataset column cannot be {kind}",
            hint="use VARCHAR, BOOLEAN, an integer, FLOAT, DOUBLE, DECIMAL(p,s), DATE, TIME, "
            "TIMESTAMP or TIMESTAMPTZ",
            field="columns",
            column=name,
        )
    return str(kind)


def open_csv(given: Input, options: CsvOptions, *, whole: bool, progress: bool) -> Source:
    """Open `given` for streaming with DuckDB; refuses a bad dialect or column at once.

    `whole` infers types from every row (after a `Widened`); `progress` makes `consumed`
    follow DuckDB's own progress through the file.
    """
    refuse_long_lines(given)
    con = _connect(given.path, progress=progress)
    try:
        with translated(given, options, whole=whole):
            relation, floats = _bind(con, given, options, whole)
            reader = relation.to_arrow_reader()
    except BaseException:
        con.close()
        raise
    untyped = CsvOptions(options.delimiter, options.null_values)
    text_sql = read_csv_sql(given, untyped, extra=("all_varchar = true",))
    typed = {name for name, _ in options.columns}
    checker = NumberCheck(con, given, text_sql, floats, typed)
    batches = _stream(reader, given, options, whole, checker)
    consumed = _progress(con, given.size) if progress else (lambda: 0)
    return Source(given.shown, "csv", reader.schema, given.size, None, batches, consumed, con.close)


def _connect(path: str, *, progress: bool) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "python_enable_replacements": False,
            "temp_directory": "",  # nothing spilled outside the store
        },
    )
    try:
        # what shapes the Arrow schema, and so the fingerprint and the object's bytes:
        # TIMESTAMPTZ as timestamp[us, tz=UTC] whatever the machine's zone, Utf8 strings
        for setting in (
            "TimeZone = 'UTC'",
            "arrow_large_buffer_size = false",
            "arrow_lossless_conversion = false",
            "arrow_output_version = '1.0'",
            "arrow_output_list_view = false",
            f"enable_progress_bar = {'true' if progress else 'false'}",
            "enable_progress_bar_print = false",
            # DuckDB parses ahead into this buffer while the Parquet writer encodes
            f"streaming_buffer_size = '{STREAM_BUFFER}'",
            f"max_streaming_buffer_size = '{STREAM_BUFFER}'",
        ):
            con.execute(f"SET {setting}")
        con.execute("SET allowed_paths = ?", [[path]])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def read_csv_sql(
    given: Input,
    options: CsvOptions,
    *,
    whole: bool = False,
    delimiter: str | None = None,
    extra: tuple[str, ...] = (),
    function: str = "read_csv",
) -> str:
    """The ``read_csv(...)`` call for `given` (`delimiter` overrides the options' one)."""
    args = [literal(given.path), "header = true", "skip = 0", "compression = 'none'"]
    args.append(f"max_line_size = {MAX_ROW_BYTES}")
    if delim := delimiter or options.delimiter:
        args.append(f"delim = {literal(delim)}")
    if options.null_values is not None:
        args.append(f"nullstr = [{', '.join(literal(text) for text in options.null_values)}]")
    if options.columns:
        types = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in options.columns)
        args.append(f"types = {{{types}}}")
    if whole:
        args.append("sample_size = -1")
    args += extra
    return f"{function}({', '.join(args)})"


def _bind(
    con: duckdb.DuckDBPyConnection, given: Input, options: CsvOptions, whole: bool
) -> tuple[duckdb.DuckDBPyRelation, dict[str, str]]:
    """The relation to stream (HUGEINT cast as stored), and its float columns' types.

    The file is sniffed once, by ``sniff_csv``, whose ``Prompt`` is the ``read_csv`` call
    with everything the sniffer found spelt out (``auto_detect=false``): streaming that
    does not sniff the file a second time (~50 ms a 100 MB file).
    """
    prompt, columns = _sniffed(con, given, options, whole, options.delimiter)
    if options.delimiter is None and len(columns) == 1:
        guess = header_delimiter(given.path)
        if guess is not None:
            prompt, columns = _sniffed(con, given, options, whole, guess)
    exprs, floats = [], {}
    for name, kind in columns:
        _check_type(given, name, kind)
        if kind in FLOATS:
            floats[name] = kind
        stored = STORED_AS.get(kind)
        exprs.append(f"CAST({quote(name)} AS {stored}) AS {quote(name)}" if stored else quote(name))
    return con.sql(f"SELECT {', '.join(exprs)} {prompt}"), floats


def _sniffed(
    con: duckdb.DuckDBPyConnection,
    given: Input,
    options: CsvOptions,
    whole: bool,
    delimiter: str | None,
) -> tuple[str, list[tuple[str, str]]]:
    """DuckDB's sniff of the file: the ``FROM read_csv(...)`` it stands for, and the columns."""
    import duckdb

    call = read_csv_sql(given, options, whole=whole, delimiter=delimiter, function="sniff_csv")
    try:
        found = con.execute(f"SELECT Prompt, Columns FROM {call}").fetchall()
    except duckdb.Error as error:
        if "sniffing" in str(error):
            # no dialect fits every row: find the first row that breaks the likeliest one
            located_ragged(con, given, options, delimiter or header_delimiter(given.path))
        raise
    [(prompt, sniffed)] = found
    return prompt.strip().rstrip(";"), [(column["name"], column["type"]) for column in sniffed]


def _check_type(given: Input, name: str, kind: str) -> None:
    """Refuse a column whose type no Parquet column holds as it is (BIGNUM, INTERVAL...)."""
    import duckdb

    if duckdb.sqltype(kind).id in COLUMN_TYPES:
        return
    why = (
        "holds integers beyond HUGEINT (DuckDB's BIGNUM), which no Parquet column holds"
        if kind == "BIGNUM"
        else f"has type {kind}, which a dataset cannot hold"
    )
    raise refuse(
        given.shown,
        f"{given.shown}: column {name!r} {why}",
        COLUMN_HINT.format(name=name) + ", or DOUBLE (rounds them)",
        column=name,
        type=kind,
    )


def _stream(
    reader: pa.RecordBatchReader,
    given: Input,
    options: CsvOptions,
    whole: bool,
    checker: NumberCheck,
) -> Iterator[pa.RecordBatch]:
    with translated(given, options, whole=whole, streaming=True):
        for batch in reader:
            checker.check(batch)
            yield batch


def _progress(con: duckdb.DuckDBPyConnection, total: int) -> Callable[[], int]:
    """Bytes read so far, from DuckDB's progress through the scan (never going back)."""
    done = [0]

    def consumed() -> int:
        percent = con.query_progress()
        if percent > 0:
            done[0] = max(done[0], min(total, int(total * percent / 100)))
        return done[0]

    return consumed
