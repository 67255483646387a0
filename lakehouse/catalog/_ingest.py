"""Ingest: a user's CSV or Parquet file in, one content-addressed Parquet object out.

The data-file side of the catalog: it writes objects and appends no journal record. A
command writes the object first and then appends the record that names it, so a refused
file leaves nothing behind and a crash in between leaves an unreferenced object, never a
record naming a missing file. A write that fails (a full disk, a quota, a size limit) is
`ObjectWriteFailed`, translated in one place (`_writing`); the input's own faults are
`InvalidInput`, translated where the input is read (lakehouse/catalog/_sources.py).

A registered Parquet file is copied, re-encoded through the same writer as a CSV: the
store stays self-contained (deleting or editing the original changes nothing), every
object has the same layout and options, and the same data from a CSV and from a Parquet
file lands in the same object.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journal import LakehouseError
from lakehouse._errors import ObjectWriteFailed
from lakehouse.catalog._names import validate_dataset_name
from lakehouse.catalog._objects import ObjectInfo, row_groups, write_groups
from lakehouse.catalog._prefetch import prefetch
from lakehouse.catalog._schema import check_columns, schema_columns, schema_fingerprint
from lakehouse.catalog._sources import Source, Widened, open_source, read_whole

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


def read_table(path: Path) -> tuple[pa.Table, str]:
    """The whole CSV or Parquet file as one Arrow table, and its format ('csv' or 'parquet').

    CSV types are inferred from every row. Refusals are InvalidInput naming the file.
    """
    return read_whole(path)


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
    store_root: Path, name: str, path: Path, *, progress: Progress | None = None
) -> ObjectInfo:
    """Stream a CSV or Parquet file into a Parquet object of dataset `name`.

    `progress(done, total)` is called with bytes of the source, in the calling thread,
    after each row group and once at the end with done == total. A CSV is streamed with
    types inferred from its first block; if a later value does not fit (a float in an int
    column, text in a date column), the file is read whole instead, which takes memory
    in proportion to its size but gives the types `read_table` gives.
    """
    validate_dataset_name(name)
    total = path.stat().st_size if path.is_file() else 0
    try:
        with open_source(path) as source:
            report = None if progress is None else _reporter(source, progress)
            with (
                _writing(store_root, name),
                closing(prefetch(row_groups(source.batches, source.schema))) as groups,
            ):
                info = write_groups(store_root, name, source.schema, groups, after_group=report)
    except Widened:
        table, _ = read_whole(path)
        info = write_object(store_root, name, table)
    if progress is not None:
        progress(total, total)
    return info


def inspect_parquet(path: Path) -> SourceInfo:
    """Schema, fingerprint and row count of a Parquet file, from its metadata only."""
    with open_source(path, parquet_only=True) as source:
        return SourceInfo(
            path=str(path),
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
