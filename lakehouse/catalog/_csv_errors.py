"""DuckDB's CSV errors as the catalog's refusals: the one place they are translated.

Every refusal is an `InvalidInput` with ``field="file"`` naming the user's file (never
the ``/proc/self/fd`` path DuckDB was given), chained with ``from``; a value that does not
convert to a type DuckDB sniffed from a sample is `Widened` instead (read the file again
with every row sniffed). Bytes that are not UTF-8 come first: they are what is wrong with
the file, whatever DuckDB tripped on, and the refusal names the first one's line and
byte offset.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from lakehouse._errors import InvalidInput
from lakehouse.catalog._batches import Widened
from lakehouse.catalog._inputs import CSV_HINT, HEAD_BYTES, Input, refuse
from projections import literal

if TYPE_CHECKING:
    import duckdb

    from lakehouse.catalog._csv_options import CsvOptions

MAX_ROW_BYTES = 2_000_000  # DuckDB's max_line_size (its default), pinned in read_csv_sql
PROBE_BYTES = 1 << 16
DELIMITERS = (",", "\t", ";", "|")  # tried on the header line when DuckDB finds one column
UTF8_HINT = "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv"
LINE = re.compile(r"CSV Error on Line: (?P<line>\d+)")
RAGGED = re.compile(r"Expected Number of Columns: (?P<want>\d+) Found: (?P<got>\d+)")
LINE_SIZE = re.compile(
    r"Maximum line size of (?P<limit>\d+) bytes exceeded\. Actual Size:\s*(?P<size>\d+)"
)
CONVERT = re.compile(
    r'Error when converting column "(?P<column>.*?)"\. Could not convert string "(?P<value>.*?)" '
    r"to '(?P<type>[^']+)'"
)
CAST = re.compile(
    r"Could not cast value (?P<value>\S+) to (?P<type>DECIMAL\(38,0\)) .*column (?P<column>.+)$",
    re.M,
)
MISSING = re.compile(r"Columns with names: (?P<names>.+?) do not exist")


@contextmanager
def translated(
    given: Input, options: CsvOptions, *, whole: bool, streaming: bool = False
) -> Iterator[None]:
    """Turn a DuckDB (or Arrow stream) error raised while reading `given` into a refusal."""
    import duckdb
    import pyarrow as pa

    try:
        yield
    except (InvalidInput, Widened):
        raise
    except (duckdb.Error, pa.ArrowException, OSError) as error:
        # an error inside DuckDB's Arrow stream reaches Python as an OSError
        raise translate(str(error), given, options, whole=whole) from error


def translate(text: str, given: Input, options: CsvOptions, *, whole: bool) -> Exception:
    """The refusal (or `Widened`) for DuckDB's error `text` about `given`."""
    if "Invalid unicode" in text or "not utf-8 encoded" in text:
        return not_utf8(given)
    at = LINE.search(text)
    error = _Error(given, options, int(at["line"]) if at else None, whole)
    for pattern, explain in _EXPLAINED:
        if found := pattern.search(text):
            return explain(error, found)
    if "sniffing" in text:
        return refuse(
            given.shown,
            f"DuckDB could not tell how {given.shown} is delimited and quoted",
            "give the delimiter with --delimiter; every row needs as many fields as the header",
        )
    first = text.splitlines()[0] if text else "no reason given"
    return refuse(given.shown, f"{given.shown} is not a readable CSV file: {first}", CSV_HINT)


@dataclass(frozen=True)
class _Error:
    """What is known about an error besides its text: the input, the options, its line."""

    given: Input
    options: CsvOptions
    line: int | None
    whole: bool

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line else "a line"


def _ragged(error: _Error, found: re.Match[str]) -> Exception:
    want, got, shown = int(found["want"]), int(found["got"]), error.given.shown
    return refuse(
        shown,
        f"{shown}: {error.where} has {got} fields, expected {want} (as the header has)",
        f"every row needs {want} fields; quote fields that hold the delimiter or a line break",
        line=error.line,
        expected_columns=want,
        actual_columns=got,
    )


def _too_long(error: _Error, found: re.Match[str]) -> Exception:
    limit, size, shown = int(found["limit"]), int(found["size"]), error.given.shown
    return refuse(
        shown,
        f"{shown}: a row of {size:,} bytes is longer than the {limit:,} bytes a row may hold",
        f"a row (with its quoted line breaks) may hold at most {limit:,} bytes: split the "
        "long field, or write the data as Parquet and register it",
        limit=limit,
        size=size,
    )


def _unconverted(error: _Error, found: re.Match[str]) -> Exception:
    column, value, kind = found["column"], found["value"], found["type"]
    typed = error.options.typed(column)
    if kind.startswith("DECIMAL") and not typed and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        # the one DECIMAL not given by --column: a HUGEINT's storage, its cast pushed
        # down into the reader by DuckDB
        return _too_many_digits(error, {"column": column, "value": value})
    if not error.whole and not typed:
        return Widened(found[0])
    shown = error.given.shown
    return refuse(
        shown,
        f"{shown}: {error.where}: column {column!r} holds {value!r}, which is not a {kind}",
        f"fix the value, or give the column another type (--column {column}=VARCHAR keeps "
        "the text)",
        line=error.line,
        column=column,
        value=value,
    )


def _too_many_digits(error: _Error, found: re.Match[str] | dict[str, str]) -> Exception:
    column, shown = found["column"].strip(), error.given.shown
    return refuse(
        shown,
        f"{shown}: column {column!r} holds {found['value']}, more than the 38 digits "
        "a Parquet DECIMAL(38,0) holds (a HUGEINT column is stored as one)",
        f"--column {column}=VARCHAR keeps the digits as text (or =DOUBLE rounds them)",
        column=column,
        value=found["value"],
    )


def _no_such_column(error: _Error, found: re.Match[str]) -> Exception:
    return InvalidInput(
        f"--column: {error.given.shown} has no column {found['names']}",
        hint="name a column of the header row (names are matched exactly)",
        field="columns",
        file=error.given.shown,
    )


_EXPLAINED: tuple[tuple[re.Pattern[str], Callable[[_Error, re.Match[str]], Exception]], ...] = (
    (RAGGED, _ragged),
    (LINE_SIZE, _too_long),
    (CONVERT, _unconverted),
    (CAST, _too_many_digits),
    (MISSING, _no_such_column),
)


def located_ragged(
    con: duckdb.DuckDBPyConnection, given: Input, options: CsvOptions, delimiter: str | None
) -> None:
    """Raise the refusal naming the first row of `given` that `delimiter` splits wrongly.

    A strict parse with the dialect given (quote and escape '"', every field VARCHAR)
    finds it; if there is none, nothing is raised and the caller's error stands.
    """
    import duckdb

    fields = _header_fields(given.path, delimiter or ",")
    if not fields:
        return
    columns = ", ".join(f"{literal(f'column{i}')}: 'VARCHAR'" for i in range(len(fields)))
    args = [
        literal(given.path),
        "auto_detect = false",
        "header = true",
        "skip = 0",
        f"delim = {literal(delimiter or ',')}",
        "quote = '\"'",
        "escape = '\"'",
        "compression = 'none'",
        f"columns = {{{columns}}}",
    ]
    try:
        with con.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM read_csv({', '.join(args)})").fetchall()
    except duckdb.Error as error:
        found = translate(str(error), given, options, whole=True)
        if isinstance(found, InvalidInput) and "expected_columns" in found.fields:
            raise found from error
        if isinstance(found, InvalidInput) and "offset" in found.fields:
            raise found from error  # not UTF-8


def refuse_long_lines(given: Input) -> None:
    """Refuse a file with a line longer than a row may be, before DuckDB sniffs it.

    DuckDB refuses such a row too, but its sniffer takes seconds to (3 s for a 10 MB
    field): each stretch of MAX_ROW_BYTES + 1 bytes is probed for a line break instead,
    which reads a few KiB of each as a rule. A stretch without one holds part of a line
    longer than MAX_ROW_BYTES, which no row may hold. A shorter line that, with its
    quoted line breaks, makes too long a row is left to DuckDB.
    """
    span = MAX_ROW_BYTES + 1
    try:
        with open(given.path, "rb") as file:
            for start in range(0, max(given.size - span + 1, 0), span):
                if not _has_line_break(file, start, span):
                    raise refuse(
                        given.shown,
                        f"{given.shown}: the line through byte offset {start:,} is longer than "
                        f"the {MAX_ROW_BYTES:,} bytes a row may hold",
                        f"a row (with its quoted line breaks) may hold at most "
                        f"{MAX_ROW_BYTES:,} bytes: split the long field, or write the data as "
                        "Parquet and register it",
                        offset=start,
                        limit=MAX_ROW_BYTES,
                    )
    except OSError:
        return  # unreadable now: DuckDB's read says so


def _has_line_break(file: BinaryIO, start: int, span: int) -> bool:
    file.seek(start)
    read = 0
    while read < span:
        block = file.read(min(PROBE_BYTES << (read // PROBE_BYTES).bit_length(), span - read))
        if not block:
            return True  # the end of the file
        if b"\n" in block or b"\r" in block:
            return True
        read += len(block)
    return False


def header_delimiter(path: str) -> str | None:
    """The delimiter that splits the file's first line into the most fields (> 1), if any."""
    best, most = None, 1
    for delimiter in DELIMITERS:
        count = len(_header_fields(path, delimiter))
        if count > most:
            best, most = delimiter, count
    return best


def _header_fields(path: str, delimiter: str) -> list[str]:
    """The first line of the file split as a CSV line (Python's csv module)."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError:
        return []
    line = codecs.decode(head.split(b"\n", 1)[0], "utf-8", "replace").lstrip("\ufeff")
    return next(csv.reader([line.rstrip("\r")], delimiter=delimiter), [])


def not_utf8(given: Input) -> InvalidInput:
    """The refusal of a file that is not UTF-8, naming its first bad byte's line and offset."""
    bad = first_non_utf8(given.path)
    if bad is None:
        return refuse(given.shown, f"{given.shown} is not UTF-8 text", UTF8_HINT)
    offset, line = bad
    return refuse(
        given.shown,
        f"{given.shown} is not UTF-8 text: line {line} (byte offset {offset}) is not valid UTF-8",
        UTF8_HINT,
        line=line,
        offset=offset,
    )


def first_non_utf8(path: str) -> tuple[int, int] | None:
    """The byte offset and line of the first byte of `path` that is not UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    try:
        with open(path, "rb") as file:
            while True:
                block = file.read(HEAD_BYTES)
                held = len(decoder.getstate()[0])  # a sequence the last block cut in two
                try:
                    decoder.decode(block, final=not block)
                except UnicodeDecodeError as error:
                    at = offset - held + error.start
                    return at, newlines + block[: max(0, error.start - held)].count(b"\n") + 1
                if not block:
                    return None
                offset += len(block)
                newlines += block.count(b"\n")
    except OSError:
        return None  # unreadable now: the error being translated says so
