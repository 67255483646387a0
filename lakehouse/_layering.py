"""A checkpoint's tables as layers: the ones before it shared, its tail written as a new one.

A table whose part starts from a checkpoint is written as that checkpoint's layers,
hard-linked as they are (`Checkpoint.shared`: no bytes written), plus one layer for the
records since: their rows and the keys they set or removed. `projections.plan` says how
many of the newest layers that layer merges with, so layers stay few (O(log)) and a
checkpoint writes what changed, not the table (projections/_layers.py). A table with no
checkpoint to build on (from genesis, or a fold in bulk) is written whole, one layer.

The table's digest (row count, and a sum of row hashes that no order changes) is the
previous one less the rows the tail's keys override, plus the tail's rows: the same
figure `ReadModels.digest` gives by reading every row (tests/lakehouse/test_layers.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checkpoints import Checkpoint
from lakehouse._readmodels import layer_files, table_file
from projections import Layer, Part, ReadModels, Table, layered, merged_keys, plan, quote

Files = dict[str, Any]  # relpath -> a checkpoint file source (bytes, a callback, Shared)
Listed = list[tuple[str, int, str | None]]  # (rows file, rows, keys file), oldest first


def table_layers(
    models: ReadModels, part: Part, base: Checkpoint | None, table: Table
) -> tuple[Files, Listed, str]:
    """The files of a table in a checkpoint of `models`, its layers and its digest."""
    name = table.name
    tail = models.tail.get(name)
    keys = models.touched.get(name)
    old = part.layers(table)
    if base is None or part.base_relations or not old:
        return _whole(models, table)
    listed = layer_files(part.base_meta, name)
    if tail is None and keys is None:  # nothing changed: every layer shared as it is
        digest = part.base_meta.get("digests", {}).get(name) or models.digest(name)
        return _shared(base, part, listed), listed, digest
    count = models.query(f"SELECT count(*) FROM {tail}")[0][0] if tail else 0
    merge = plan([rows for _, rows, _ in listed], count)
    if merge == len(listed) or any(rows < 0 for _, rows, _ in listed[len(listed) - merge :]):
        return _whole(models, table)
    kept = len(listed) - merge
    top = Layer(tail or _empty(models, table), keys, count)
    merged = [*old[kept:], top]
    rows_file = f"tables/{name}.{models.seq}.parquet"
    keys_file = f"tables/{name}.{models.seq}.keys.parquet" if table.key else None
    files: Files = _shared(base, part, listed[:kept])
    select = layered(merged, table.key)
    files[rows_file] = _rows_writer(models, name, select)
    union = merged_keys(merged)
    if keys_file is not None and union is not None:
        files[keys_file] = _keys_writer(models, table, union)
    elif keys_file is not None:
        keys_file = None
    digest = _digest_after(models, old, table, part.base_meta.get("digests", {}).get(name))
    (rows,) = models.query(f"SELECT count(*) FROM ({select})")[0]
    return files, [*listed[:kept], (rows_file, rows, keys_file)], digest


def _whole(models: ReadModels, table: Table) -> tuple[Files, Listed, str]:
    digest = models.digest(table.name)
    count = int(digest.partition(":")[0])
    relpath = table_file(table.name)
    return {relpath: _rows_writer(models, table.name, None)}, [(relpath, count, None)], digest


def _shared(base: Checkpoint, part: Part, listed: Listed) -> Files:
    """The layers' files shared from `base`, each only if it is still the file the part
    read (pinned open): a base replaced since (a rebuild at its seq) is refused, never
    paired with layers made over another file."""
    files: Files = {}
    for rows, _, keys in listed:
        for relpath in (rows, keys):
            if relpath is not None:
                inode = os.stat(part.table_files[relpath]).st_ino
                files[relpath] = base.shared(relpath, inode=inode)
    return files


def _empty(models: ReadModels, table: Table) -> str:
    columns = ", ".join(f"NULL::{column.type} AS {quote(column.name)}" for column in table.columns)
    return f"(SELECT {columns} LIMIT 0)"


def _rows_writer(models: ReadModels, table: str, select: str | None) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        models.write_table(table, path, select)

    return write


def _keys_writer(models: ReadModels, table: Table, keys: str) -> Callable[[Path], None]:
    import pyarrow as pa

    schema = pa.schema([table.arrow_schema().field(table.key_index).with_name("key")])

    def write(path: Path) -> None:
        models.write_parquet(f"SELECT key FROM {keys} ORDER BY key", schema, path)

    return write


def _digest_after(models: ReadModels, old: list[Layer], table: Table, before: Any) -> str:
    """The table's digest: `before` (the checkpoint's) less what the tail's keys override
    there, plus the tail's rows. Read whole where the checkpoint gives no digest."""
    name = table.name
    if not isinstance(before, str):
        return models.digest(name)
    count, _, total = before.partition(":")
    rows, hashed = int(count), int(total)
    if name in models.touched and table.key is not None:
        gone, gone_hash = models.query(
            f"SELECT count(*), coalesce(sum(hash(b)::HUGEINT), 0) FROM ({layered(old, table.key)})"
            f" b SEMI JOIN {models.touched[name]} t ON b.{quote(table.key)} = t.key"
        )[0]
        rows, hashed = rows - gone, hashed - int(gone_hash)
    if name in models.tail:
        added, added_hash = models.query(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {models.tail[name]} t"
        )[0]
        rows, hashed = rows + added, hashed + int(added_hash)
    return f"{rows}:{hashed}"
