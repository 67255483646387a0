"""Reading a user's file, CSV or Parquet, into Arrow: the one place pyarrow's errors are translated.

Every refusal is an `InvalidInput` with ``field="file"`` and ``file=<path>``, chained to the
pyarrow exception with ``from``. pyarrow is imported inside the functions that use it: the
CLI's mutation verbs import this package and must start fast.

Decisions: an empty file is refused (it names no columns); a header-only file is a dataset
of 0 rows whose columns have Arrow type ``null`` (there is nothing to infer from). A CSV
column holding bytes that are not UTF-8 is refused rather than ingested as ``binary``. A
CSV that pyarrow cannot parse and that holds bytes that are not UTF-8 is refused for
those bytes, naming the first one's line and byte offset (and calling a file with NUL
bytes binary, not a CSV): that is what is wrong with it, whatever pyarrow tripped on.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lakehouse._errors import InvalidInput
from lakehouse.catalog._schema import check_columns

if TYPE_CHECKING:
    import pyarrow as pa

BLOCK_BYTES = 1 << 20  # CSV block: the unit of parsing, and of type inference when streaming
PARQUET_MAGIC = b"PAR1"
PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})
COMPRESSED = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2"}
HEADER_HINT = "the first line must name the columns, e.g. id,name,city"
UTF8_HINT = "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv"
RAGGED = re.compile(r"(?:Row #(?P<row>\d+): )?Expected (?P<want>\d+) columns, got (?P<got>\d+)")
WIDENED = re.compile(r"^In CSV column #\d+: CSV conversion error")


class Widened(Exception):
    """A streamed CSV column met a value its first-block type cannot hold; read it whole."""


def detect_format(path: Path) -> str:
    """'parquet' if the file has Parquet's magic bytes at both ends, else 'csv'."""
    try:
        with open(path, "rb") as file:
            head, size = file.read(4), os.fstat(file.fileno()).st_size
            file.seek(max(size - 4, 0))
            tail = file.read(4)
    except OSError as error:
        raise _refuse(path, f"cannot read {path}: {error.strerror}", "check the path") from error
    if size == 0:
        raise _refuse(path, f"{path} is empty", HEADER_HINT)
    if size >= 12 and head == tail == PARQUET_MAGIC:
        return "parquet"
    if path.suffix.lower() in PARQUET_SUFFIXES or head == PARQUET_MAGIC:
        why = "no PAR1 footer: truncated?" if head == PARQUET_MAGIC else "no PAR1 magic bytes"
        hint = "give the path of a complete Parquet file, or name a CSV file *.csv"
        raise _refuse(path, f"{path} is not a Parquet file ({why})", hint)
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            raise _refuse(path, f"{path} is {kind}-compressed", "decompress it and ingest the CSV")
    return "csv"


@dataclass
class Source:
    """An open file being read as a stream of record batches, with its schema and size."""

    path: Path
    format: str
    schema: pa.Schema
    total_bytes: int
    rows: int | None  # known up front for Parquet (from the footer), not for CSV
    batches: Iterator[pa.RecordBatch]
    consumed: Callable[[], int]
    close: Callable[[], None]

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def open_source(path: Path, *, parquet_only: bool = False) -> Source:
    """Open a CSV or Parquet file for streaming; refuses a bad header or schema at once."""
    if detect_format(path) == "parquet":
        return _open_parquet(path)
    if parquet_only:
        hint = "give the path of a Parquet file, or ingest a CSV file instead"
        raise _refuse(path, f"{path} is not a Parquet file (no PAR1 magic bytes)", hint)
    return _open_csv(path)


def read_whole(path: Path) -> tuple[pa.Table, str]:
    """The whole file as one table with types inferred from every row, and its format."""
    import pyarrow.parquet as pq
    from pyarrow import csv

    source_format = detect_format(path)
    with _translated(path, source_format):
        if source_format == "parquet":
            table = pq.read_table(path)
        else:
            data = _csv_input(path)
            try:
                table = csv.read_csv(data, read_options=_read_options(), parse_options=_parse())
            finally:
                data.close()
    _check_schema(path, source_format, table.schema)
    return table, source_format


def _open_csv(path: Path) -> Source:
    from pyarrow import csv

    data = _csv_input(path)
    try:
        with _translated(path, "csv"):
            reader = csv.open_csv(data, read_options=_read_options(), parse_options=_parse())
        _check_schema(path, "csv", reader.schema)
    except BaseException:
        data.close()
        raise
    consumed = data.consumed if isinstance(data, _CountingFile) else lambda: 0
    size = path.stat().st_size
    return Source(
        path, "csv", reader.schema, size, None, _stream(path, reader), consumed, data.close
    )


def _stream(path: Path, reader: Any) -> Iterator[pa.RecordBatch]:
    with _translated(path, "csv", streaming=True):
        yield from reader


def _open_parquet(path: Path) -> Source:
    import pyarrow.parquet as pq

    with _translated(path, "parquet"):
        file = pq.ParquetFile(path)
    try:
        _check_schema(path, "parquet", file.schema_arrow)
    except BaseException:
        file.close()
        raise
    size, rows, done = path.stat().st_size, int(file.metadata.num_rows), [0]

    def batches() -> Iterator[pa.RecordBatch]:
        with _translated(path, "parquet"):
            for batch in file.iter_batches(batch_size=1 << 16):
                done[0] += batch.num_rows
                yield batch

    def consumed() -> int:  # progress in bytes, estimated from rows
        return size * done[0] // max(rows, 1)

    schema = file.schema_arrow
    return Source(path, "parquet", schema, size, rows, batches(), consumed, file.close)


class _CountingFile(io.FileIO):
    """A file that counts the bytes pyarrow has read from it, for progress."""

    count = 0

    def consumed(self) -> int:
        return self.count

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any, /) -> int | None:
        done = super().readinto(buffer)
        self.count += done or 0
        return done


def _csv_input(path: Path) -> _CountingFile | pa.BufferReader:
    import pyarrow as pa

    file = _CountingFile(path, "r")
    if os.fstat(file.fileno()).st_size > BLOCK_BYTES:
        return file
    with file:
        data = file.read()
    # pyarrow cannot tell the columns of a lone line without a line end: a header-only
    # file written without its final newline would be refused as empty
    if b"\n" not in data and b"\r" not in data:
        data += b"\n"
    return pa.BufferReader(data)


def _read_options(*, threads: bool = True) -> Any:
    from pyarrow import csv

    return csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=threads)


def _parse(**options: Any) -> Any:
    from pyarrow import csv

    # RFC 4180: a quoted field may hold commas, doubled quotes and line breaks
    return csv.ParseOptions(newlines_in_values=True, **options)


def _check_schema(path: Path, source_format: str, schema: pa.Schema) -> None:
    import pyarrow as pa

    check_columns(schema, str(path))
    if source_format != "csv":
        return
    for field in schema:
        # pyarrow infers `binary` for a CSV column only when its bytes are not UTF-8
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            message = f"{path} is not UTF-8: column {field.name!r} holds other bytes"
            raise _refuse(path, message, UTF8_HINT, column=field.name)


@contextmanager
def _translated(path: Path, source_format: str, *, streaming: bool = False) -> Iterator[None]:
    """Turn any pyarrow (or OS) error raised while reading `path` into InvalidInput."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as error:
        text = str(error)
        if streaming and WIDENED.match(text):
            raise Widened(text) from error
        raise _translate(path, source_format, text) from error


def _translate(path: Path, source_format: str, text: str) -> InvalidInput:
    # bytes that are not UTF-8 come first: they are what is wrong, whatever pyarrow tripped
    # on (random bytes look like ragged rows), and pyarrow cannot decode them to say which
    # row is ragged (its row handler raised an ignored UnicodeDecodeError with a traceback)
    if source_format == "csv" and (bad := _first_non_utf8(path)) is not None:
        return _not_utf8(path, *bad)
    if source_format == "csv" and (ragged := RAGGED.search(text)):
        want, got = int(ragged["want"]), int(ragged["got"])
        row = int(ragged["row"]) if ragged["row"] else _locate_ragged_row(path)
        where = f"row {row} (the header is row 1)" if row else "a row"
        return _refuse(
            path,
            f"{path}: {where} has {got} columns, expected {want}",
            f"every row needs {want} columns; quote fields holding commas or line breaks",
            row=row,
            expected_columns=want,
            actual_columns=got,
        )
    if source_format == "csv" and ("UTF8" in text or "UTF-8" in text):
        return _refuse(path, f"{path} is not UTF-8: {text}", UTF8_HINT)
    if source_format == "csv" and "Empty CSV" in text:
        return _refuse(path, f"{path} has no header row", HEADER_HINT)
    kind = "CSV" if source_format == "csv" else "Parquet"
    return _refuse(
        path,
        f"{path} is not a readable {kind} file: {text}",
        "check the file: a CSV needs a header row and comma-separated UTF-8 rows",
    )


def _first_non_utf8(path: Path) -> tuple[int, int] | None:
    """The byte offset and line of the first byte of `path` that is not UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    try:
        with open(path, "rb") as file:
            while True:
                block = file.read(BLOCK_BYTES)
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


def _not_utf8(path: Path, offset: int, line: int) -> InvalidInput:
    try:
        with open(path, "rb") as file:
            binary = b"\0" in file.read(BLOCK_BYTES)
    except OSError:
        binary = False  # it was readable a moment ago; what is known still holds
    what = "a binary file, not a CSV" if binary else "not UTF-8 text"
    return _refuse(
        path,
        f"{path} is {what}: line {line} (byte offset {offset}) is not valid UTF-8",
        "give a CSV file: UTF-8 text, a header row, comma-separated values"
        if binary
        else UTF8_HINT,
        line=line,
        offset=offset,
    )


def _locate_ragged_row(path: Path) -> int | None:
    """The number of the first row with the wrong column count, from a serial re-parse."""
    import pyarrow as pa
    from pyarrow import csv

    rows: list[int | None] = []

    def handler(row: Any) -> str:
        rows.append(row.number)  # known only when parsing serially
        return "error"

    data = _csv_input(path)
    try:
        reader = csv.open_csv(
            data,
            read_options=_read_options(threads=False),
            parse_options=_parse(invalid_row_handler=handler),
        )
        for _ in reader:
            pass
    except (pa.ArrowException, OSError):
        pass
    finally:
        data.close()
    return rows[0] if rows else None


def _refuse(path: Path, message: str, hint: str, **fields: Any) -> InvalidInput:
    return InvalidInput(message, hint=hint, field="file", file=str(path), **fields)
