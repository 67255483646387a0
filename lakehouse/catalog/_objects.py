"""Content-addressed Parquet objects: ``objects/datasets/<name>/<fingerprint>-<sha256>.parquet``.

An object is written once under a temp name, fsynced, hashed, renamed into place and never
changed. The same table always gives the same bytes (fixed writer options, dictionaries
chosen from the data alone, row groups of a fixed row count, each made contiguous), so
ingesting the same data twice finds its object already there and writes nothing new.
"The same bytes" holds for one pyarrow version: the footer names the writer
(``created_by``).

Temp files are ``.<pid>-<random>.tmp`` beside the objects; a crash can leave one behind,
which is litter (never named by the journal), not damage.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journal import check_dir, file_sha256, fsync_dir, relpath_of
from lakehouse.catalog._schema import schema_columns, schema_fingerprint

if TYPE_CHECKING:
    import pyarrow as pa

# DuckDB scans one row group per thread; 2**17 rows is ~10-20 MB of typical tabular data
ROW_GROUP_ROWS = 1 << 17
DICTIONARY_SAMPLE_ROWS = 8192  # the values `dictionary_columns` judges a column by
# pinned rather than left to pyarrow's defaults, which may change between versions; snappy
# because ingest throughput matters more than size (zstd: ~30% smaller, ~1.8x the write time)
PARQUET_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "data_page_version": "1.0",
    "compression": "snappy",
    "use_dictionary": True,
    "write_statistics": True,
    "store_schema": True,
}


@dataclass(frozen=True)
class ObjectInfo:
    """One Parquet object in the store: where it is, what it holds, and its hashes."""

    path: str  # relative to the store root, with "/" separators
    sha256: str
    bytes: int
    rows: int
    schema: list[dict[str, str]]
    fingerprint: str
    created: bool = field(default=True, compare=False)  # False: the object was already there

    def to_dict(self) -> dict[str, Any]:
        """The object as a JSON-ready dict (what a catalog record carries)."""
        return asdict(self)


def row_groups(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """Regroup batches into contiguous tables of ROW_GROUP_ROWS rows (the last one shorter).

    Contiguous because Parquet bytes depend on how a column is chunked in memory, not only
    on its values: without this, CSV block boundaries would leak into the content hash.
    """
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= ROW_GROUP_ROWS:
            table = pa.Table.from_batches(pending, schema=schema)
            yield _contiguous(table.slice(0, ROW_GROUP_ROWS))
            rest = table.slice(ROW_GROUP_ROWS)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield _contiguous(pa.Table.from_batches(pending, schema=schema))


def _contiguous(table: pa.Table) -> pa.Table:
    import pyarrow as pa

    try:
        return table.combine_chunks()
    except pa.ArrowInvalid:  # > 2 GiB of text in one column of one group: offsets overflow
        return table  # still correct, only no longer byte-identical across chunkings


def write_groups(
    store_root: Path,
    name: str,
    schema: pa.Schema,
    groups: Iterable[pa.Table],
    *,
    after_group: Callable[[], None] | None = None,
) -> ObjectInfo:
    """Write `groups` as one Parquet object of dataset `name`; return where it landed.

    On any failure the temp file (and any directory made for it) is removed: a refused
    ingest leaves nothing under objects/.
    """
    import pyarrow.parquet as pq

    schema = schema.remove_metadata()  # metadata (pandas, origin) must not change the hash
    directory = store_root / "objects" / "datasets" / name
    temp, made = _create_temp(store_root, directory)
    try:
        rows = 0
        stream = iter(groups)
        first = next(stream, None)
        options = {**PARQUET_OPTIONS, "use_dictionary": dictionary_columns(first)}
        with pq.ParquetWriter(temp, schema, **options) as writer:
            for group in itertools.chain([first] if first is not None else [], stream):
                writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
                rows += group.num_rows
                if after_group is not None:
                    after_group()
        digest, size = _seal(temp)
        fingerprint = schema_fingerprint(schema)
        final = directory / f"{fingerprint}-{digest}.parquet"
        created = _publish(temp, final, digest)
    except BaseException:
        temp.unlink(missing_ok=True)
        _remove_empty(made)
        raise
    relative = final.relative_to(store_root).as_posix()
    columns = schema_columns(schema)
    return ObjectInfo(relative, digest, size, rows, columns, fingerprint, created)


def dictionary_columns(first: pa.Table | None) -> list[str] | bool:
    """The columns to dictionary-encode: those with few distinct values, judged from data.

    A column gets a dictionary when at most half of the first DICTIONARY_SAMPLE_ROWS
    values of the first row group are distinct. Trying a dictionary on a column of
    unique values (ids, notes) costs time and bytes before the writer falls back to plain
    encoding (on a 100 MB CSV: 30% of the writer's time, 8% larger). The choice depends
    on the data alone, so the same data still gives the same bytes. A nested column
    (from a registered Parquet file) keeps the writer's default, a dictionary for all.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if first is None:
        return []
    if any(pa.types.is_nested(field.type) for field in first.schema):
        return True
    sample = first.slice(0, DICTIONARY_SAMPLE_ROWS)
    return [
        field.name
        for field, column in zip(sample.schema, sample.columns, strict=True)
        if 2 * pc.count_distinct(column, mode="all").as_py() <= max(sample.num_rows, 1)
    ]


def _create_temp(store_root: Path, directory: Path) -> tuple[Path, list[Path]]:
    """Make the dataset directory and an empty temp file in it; also return the new dirs."""
    made: list[Path] = []
    temp = directory / f".{os.getpid()}-{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        for attempt in (1, 2, 3):
            _make_dirs(store_root, directory, made)
            try:
                os.close(os.open(temp, flags, 0o644))
                return temp, made
            except FileNotFoundError:  # a failed ingest beside us removed the empty directory
                if attempt == 3:
                    raise
    except BaseException:
        _remove_empty(made)
        raise
    raise AssertionError("unreachable")


def _make_dirs(store_root: Path, directory: Path, made: list[Path]) -> None:
    """Make `directory` and its missing parents below `store_root`, adding each to `made`.

    Each one is checked to be a real directory, never a symlink (tests/journal/
    test_symlinks.py), and the parent of each new one is fsynced, or a crash can lose its
    name and with it an object the journal already points to.
    """
    current = store_root
    for part in directory.relative_to(store_root).parts:
        current = current / part
        if not os.path.lexists(current):
            made.append(current)  # before it is made: a failed fsync still removes it
        check_dir(store_root, relpath_of(store_root, current), create=True)


def _remove_empty(made: list[Path]) -> None:
    """Remove the directories this ingest made, deepest first, unless another one uses them."""
    for directory in reversed(made):
        with contextlib.suppress(OSError):  # not empty: another ingest is using it
            directory.rmdir()


def _seal(temp: Path) -> tuple[str, int]:
    """The file's sha256 and size, after fsyncing its data to disk."""
    fd = os.open(temp, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sealed = file_sha256(fd)
        # fsync before the rename, or a crash can leave the final name on a short file
        os.fsync(fd)
        return sealed
    finally:
        os.close(fd)


def _publish(temp: Path, final: Path, digest: str) -> bool:
    """Rename `temp` to `final` unless `final` already holds these bytes; True if renamed."""
    if _digest_or_none(final) == digest:
        temp.unlink()  # content-addressed: same name, same bytes; keep the older file
        created = False
    else:
        os.replace(temp, final)  # absent, or damaged: a whole good copy replaces it
        created = True
    # fsync the directory even when the file was already there: another process may have
    # renamed it without its directory fsync yet, and a journal record will name it
    fsync_dir(final.parent)
    return created


def _digest_or_none(path: Path) -> str | None:
    """The sha256 of the object at `path`; None if absent or not a plain file (replaced)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return file_sha256(fd)[0]
    finally:
        os.close(fd)
