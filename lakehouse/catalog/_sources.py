"""Reading a checked input, CSV or Parquet, as a stream of Arrow record batches.

A CSV is read by DuckDB (lakehouse/catalog/_csv.py, its errors translated in
_csv_errors.py); a Parquet file by pyarrow, whose errors are translated here. Every
refusal is an `InvalidInput` with ``field="file"`` and ``file=<the user's path>``, chained
with ``from``. duckdb and pyarrow are imported inside the functions that use them: the
CLI's mutation verbs import this package and must start fast.

Decisions: an empty file is refused (it names no columns); a header-only CSV is a
dataset of 0 rows whose columns are VARCHAR (what DuckDB makes of them); a CSV is UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lakehouse.catalog._batches import Source, Widened
from lakehouse.catalog._csv import open_csv
from lakehouse.catalog._csv_options import CsvOptions
from lakehouse.catalog._inputs import Input, refuse
from lakehouse.catalog._schema import check_columns

if TYPE_CHECKING:
    import pyarrow as pa

NOT_PARQUET_HINT = "give the path of a Parquet file, or ingest a CSV file instead"


def open_source(
    given: Input,
    options: CsvOptions | None = None,
    *,
    whole: bool = False,
    progress: bool = False,
    parquet_only: bool = False,
) -> Source:
    """Open a checked input for streaming; refuses a bad header or schema at once."""
    if given.format == "parquet":
        if options is not None and options != CsvOptions():
            hint = "--delimiter, --null-value and --column apply to a CSV file only"
            raise refuse(given.shown, f"{given.shown} is a Parquet file, not a CSV", hint)
        return _open_parquet(given)
    if parquet_only:
        message = f"{given.shown} is not a Parquet file (no PAR1 magic bytes)"
        raise refuse(given.shown, message, NOT_PARQUET_HINT)
    source = open_csv(given, options or CsvOptions(), whole=whole, progress=progress)
    try:
        check_columns(source.schema, given.shown)
    except BaseException:
        source.close()
        raise
    return source


def read_whole(given: Input, options: CsvOptions | None = None) -> tuple[pa.Table, str]:
    """The whole input as one table (a CSV's types as DuckDB sniffs them), and its format."""
    import pyarrow as pa

    whole = False
    while True:
        try:
            with open_source(given, options, whole=whole) as source:
                return pa.Table.from_batches(list(source.batches), source.schema), source.format
        except Widened:
            if whole:
                raise
            whole = True


def _open_parquet(given: Input) -> Source:
    import pyarrow.parquet as pq

    with _translated(given):
        file = pq.ParquetFile(given.path)
    try:
        check_columns(file.schema_arrow, given.shown)
    except BaseException:
        file.close()
        raise
    size, rows, done = given.size, int(file.metadata.num_rows), [0]

    def batches() -> Iterator[pa.RecordBatch]:
        with _translated(given):
            for batch in file.iter_batches(batch_size=1 << 16):
                done[0] += batch.num_rows
                yield batch

    def consumed() -> int:  # progress in bytes, estimated from rows
        return size * done[0] // max(rows, 1)

    schema = file.schema_arrow
    source = Source(given.shown, "parquet", schema, size, rows, batches(), consumed, file.close)
    source.ahead = True
    return source


@contextmanager
def _translated(given: Input) -> Iterator[None]:
    """Turn a pyarrow (or OS) error raised while reading a Parquet file into InvalidInput."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as error:
        raise refuse(
            given.shown,
            f"{given.shown} is not a readable Parquet file: {error}",
            "check the file: it may be truncated or written by a tool that failed",
        ) from error
