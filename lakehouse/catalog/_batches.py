"""What a reader hands the object writer: a schema and a stream of Arrow record batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


class Widened(Exception):
    """A streamed CSV column met a value its sniffed type cannot hold: read it again, whole.

    DuckDB infers CSV types from a sample of rows; a later value that does not convert
    (text in a BIGINT column) ends the stream. The file is then read again with types
    inferred from every row (``sample_size=-1``), which gives what that read gives.
    """


@dataclass
class Source:
    """An open input being read as a stream of record batches, with its schema and size."""

    shown: str  # the input as messages name it
    format: str  # "csv" or "parquet"
    schema: pa.Schema
    total_bytes: int
    rows: int | None  # known up front for Parquet (from the footer), not for CSV
    batches: Iterator[pa.RecordBatch]
    consumed: Callable[[], int]  # bytes read so far, for progress (an estimate)
    close: Callable[[], None]
    # read it on a thread ahead of the writer: pyarrow's Parquet reader runs on the
    # caller's thread; DuckDB parses on its own threads already, into its buffer
    ahead: bool = False

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
