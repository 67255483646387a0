"""Ingest: a user's CSV or Parquet file in, one content-addressed Parquet object out.

The data-file side of the catalog: it writes objects and appends no journal record. A
command writes the object first and then appends the record that names it, so a refused
file leaves nothing behind and a crash in between leaves an unreferenced object, never a
record naming a missing file. A write that fails (a full disk, a quota, a size limit) is
`ObjectWriteFailed`, translated in one place (`_writing`); the input's own faults are
`InvalidInput`, translated where the input is read: its checks (_inputs.py), DuckDB's
CSV reader (_csv_errors.py), pyarrow's Parquet reader (_sources.py).

A registered Parquet file is copied, re-encoded through the same writer as a CSV: the
store stays self-contained (deleting or editing the original changes nothing), every
object has the same layout and options, and the same data from a CSV and from a Parquet
file lands in the same object.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from journal import LakehouseError
from lakehouse._errors import ObjectWriteFailed
from lakehouse.catalog._batches import Source, Widened
from lakehouse.catalog._csv_options import CsvOptions
from lakehouse.catalog._inputs import MAX_INPUT_BYTES, STDIN, Input, open_input
from lakehouse.catalog._names import validate_dataset_name
from lakehouse.catalog._objects import ObjectInfo, row_groups, write_groups
from lakehouse.catalog._prefetch import prefetch
from lakehouse.catalog._schema import check_columns, schema_columns, schema_fingerprint
from lakehouse.catalog._sources import open_source, read_whole

if TYPE_CHECKING:
    import pyarrow as pa

Progress = Callable[[int, int], None]
_WRITE_HINTS = {
    errno.ENOSPC: "free space on the filesystem that holds {where} (an object takes about "
    "as much as its data) and ingest again",
    errno.EDQUOT: "free space or raise the disk quota for {where}, then ingest again",
    errno.EFBIG: "the object is larger than this process may write (ulimit -f): raise the "
    "limit and ingest again",
}


@dataclass(frozen=True)
class Ingested:
    """What an ingest wrote, and what it read (the catalog record's ``source``)."""

    object: ObjectInfo
    source: dict[str, Any]


@dataclass(frozen=True)
class SourceInfo:
    """What a Parquet file holds, read from its footer alone."""

    path: str
    format: str
    bytes: int
    rows: int
    schema: list[dict[str, str]]
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        """The source as a JSON-ready dict."""
        return asdict(self)


def read_table(
    path: str | os.PathLike[str], *, options: CsvOptions | None = None
) -> tuple[pa.Table, str]:
    """The whole CSV or Parquet file as one Arrow table, and its format ('csv' or 'parquet').

    CSV types are the ones DuckDB's ``read_csv`` gives. Refusals are InvalidInput naming
    the file.
    """
    with open_input(path) as given:
        return read_whole(given, options)


def write_object(store_root: Path, name: str, table: pa.Table) -> ObjectInfo:
    """Write `table` as a content-addressed Parquet object of dataset `name`."""
    validate_dataset_name(name)
    check_columns(table.schema, "table")
    with (
        _writing(store_root, name),
        closing(prefetch(row_groups(table.to_batches(), table.schema))) as groups,
    ):
        return write_groups(store_root, name, table.schema, groups)


def ingest_file(
    store_root: Path,
    name: str,
    path: str | os.PathLike[str] | IO[bytes],
    *,
    options: CsvOptions | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
    progress: Progress | None = None,
) -> ObjectInfo:
    """Stream a CSV or Parquet file (or a binary stream) into an object of dataset `name`."""
    return ingest(
        store_root, name, path, options=options, max_bytes=max_bytes, progress=progress
    ).object


def ingest(
    store_root: Path,
    name: str,
    file: str | os.PathLike[str] | IO[bytes],
    *,
    options: CsvOptions | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
    progress: Progress | None = None,
    parquet_only: bool = False,
) -> Ingested:
    """Stream `file` (a path, or a binary stream such as stdin) into a Parquet object.

    `progress(done, total)` is called with bytes of the input, in the calling thread,
    after each row group and once at the end with done == total. A CSV is streamed with
    the types DuckDB sniffs from a sample of its rows; if a later value does not fit (a
    float in an int column, text in a date column), it is read again with every row
    sniffed, which gives the types ``read_csv(..., sample_size=-1)`` gives.
    """
    validate_dataset_name(name)
    with open_input(file, spool=store_root, max_bytes=max_bytes) as given:
        write = functools.partial(
            _write, store_root, name, given, options=options, progress=progress
        )
        try:
            info = write(whole=False, parquet_only=parquet_only)
        except Widened:  # a later value did not fit a sniffed type: sniff every row
            info = write(whole=True, parquet_only=parquet_only)
    if progress is not None:
        progress(given.size, given.size)
    label = Path(os.fspath(file)).name if isinstance(file, str | os.PathLike) else STDIN
    source: dict[str, Any] = {"format": given.format, "file": label, "bytes": given.bytes}
    if given.compression:
        source["compression"] = given.compression
    return Ingested(info, source)


def _write(
    store_root: Path,
    name: str,
    given: Input,
    *,
    options: CsvOptions | None,
    progress: Progress | None,
    whole: bool,
    parquet_only: bool,
) -> ObjectInfo:
    with open_source(
        given, options, whole=whole, progress=progress is not None, parquet_only=parquet_only
    ) as source:
        report = None if progress is None else _reporter(source, progress)
        regrouped = row_groups(source.batches, source.schema)
        ahead = closing(prefetch(regrouped)) if source.ahead else nullcontext(regrouped)
        with _writing(store_root, name), ahead as groups:
            return write_groups(store_root, name, source.schema, groups, after_group=report)


def inspect_parquet(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_INPUT_BYTES
) -> SourceInfo:
    """Schema, fingerprint and row count of a Parquet file, from its metadata only."""
    with (
        open_input(path, max_bytes=max_bytes) as given,
        open_source(given, parquet_only=True) as source,
    ):
        return SourceInfo(
            path=os.fspath(path),
            format=source.format,
            bytes=source.total_bytes,
            rows=source.rows or 0,
            schema=schema_columns(source.schema),
            fingerprint=schema_fingerprint(source.schema),
        )


def _reporter(source: Source, progress: Progress) -> Callable[[], None]:
    def report() -> None:
        progress(min(source.consumed(), source.total_bytes), source.total_bytes)

    return report


@contextmanager
def _writing(store_root: Path, name: str) -> Iterator[None]:
    """Where an OSError from writing an object (pyarrow's writer, fsync, rename) is translated.

    Errors of reading the source are InvalidInput by then (lakehouse/catalog/_sources.py),
    so an OSError here is about objects/, and `write_groups` has already removed its temp
    file and the directories it made (tests/lakehouse/catalog/test_ingest_faults.py).
    """
    try:
        yield
    except OSError as error:
        if isinstance(error, LakehouseError):
            raise
        raise _write_failed(store_root, name, error) from error


def _write_failed(store_root: Path, name: str, error: OSError) -> ObjectWriteFailed:
    where = store_root / "objects"
    code = error.errno
    reason = f"{os.strerror(code)} (errno {code})" if code else str(error)
    hint = _WRITE_HINTS.get(code or 0, "fix the cause under {where} and ingest again")
    return ObjectWriteFailed(
        f"could not write the object of dataset {name} under {where}: {reason}",
        hint=hint.format(where=where) + "; nothing was written and nothing recorded",
        entity="dataset",
        id=name,
        errno=code,
    )
