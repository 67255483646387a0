"""The heads snapshot of a checkpoint: read one shard at a time, written shard by shard.

Each table (an entity, a family's secondary index, the idempotency keys) is sharded by a
hash of its key into a power of two of shards of ~`SHARD_TARGET` entries, kept in two
files: ``heads/<table>.json``, the shards' JSON objects one after the other, and
``heads/<table>.idx``, where shard N starts and ends (little-endian uint64 N and N+1).
The checkpoint's meta holds each table's shard count (``heads``) and entry count
(``head_entries``), so neither the manifest nor the reads of one head grow with the
number of heads.

A checkpoint built on another rewrites only the shards the records between them touched
and copies the others' bytes as they are, which gives the same files a snapshot written
from scratch would give (tests/lakehouse/test_heads_snapshot.py): an incremental
checkpoint pays for what changed, not for every head (tools/bench/projection_bench.py
row E).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from checkpoints import Checkpoint

SHARD_TARGET = 8
ENTRIES = "head_entries"  # the meta key of each table's entry count
_OFFSET = struct.Struct("<QQ")  # a shard's start and end, from heads/<table>.idx


def shard_of(key: str, shards: int) -> int:
    """The shard that holds `key` among `shards` (a stable hash, not Python's)."""
    return zlib.crc32(key.encode()) % shards


def shard_count(entries: int) -> int:
    """A power of two that keeps shards near SHARD_TARGET entries."""
    count = 1
    while count * SHARD_TARGET < entries:
        count *= 2
    return count


class Snapshot:
    """The heads stored in one checkpoint, read a shard at a time.

    Checkpoints written before the .idx files list every shard's (offset, length) in
    their meta instead, and no entry counts; they are read as they are.
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.seq = checkpoint.seq
        meta = checkpoint.meta
        self.shards: dict[str, int] = {}
        self.entries: dict[str, int] = dict(meta.get(ENTRIES, {}))
        self._offsets: dict[str, list[list[int]]] = {}  # the older layout, from the meta
        for table, value in meta.get("heads", {}).items():
            if isinstance(value, list):
                self._offsets[table] = value
            self.shards[table] = len(value) if isinstance(value, list) else int(value)
        self._loaded: dict[tuple[str, int], dict[str, Any]] = {}
        # every file is opened now and read through its descriptor, so a checkpoint pruned
        # or replaced by a rebuild after this point cannot fail a later lookup
        # (tests/projections/test_processes.py); FileNotFoundError here means it already was
        self._fds: dict[str, int] = {}
        try:
            for table in self.shards:
                names = [f"{table}.json", f"{table}.idx"]
                for name in names[:1] if table in self._offsets else names:
                    path = checkpoint.path_of(f"heads/{name}")
                    self._fds[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the snapshot's files."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)

    def __del__(self) -> None:
        self.close()

    def shard(self, table: str, number: int) -> dict[str, Any]:
        """One shard of a table as a dict."""
        loaded = self._loaded.get((table, number))
        if loaded is None:
            if table in self._offsets:
                start, length = self._offsets[table][number]
            else:
                found = os.pread(self._fds[f"{table}.idx"], _OFFSET.size, number * 8)
                start, end = _OFFSET.unpack(found)
                length = end - start
            loaded = orjson.loads(os.pread(self._fds[f"{table}.json"], length, start))
            self._loaded[table, number] = loaded
        return loaded

    def get(self, table: str, key: str) -> Any:
        """The stored value for `key` in `table`, or None."""
        shards = self.shards.get(table)
        return None if not shards else self.shard(table, shard_of(key, shards)).get(key)

    def items(self, table: str) -> Iterator[tuple[str, Any]]:
        """Every (key, value) of a table."""
        for number in range(self.shards.get(table, 0)):
            yield from self.shard(table, number).items()

    def raw(self, table: str) -> tuple[bytes, tuple[int, ...]]:
        """A table's shard file as it is, and its shards' offsets (newer layout only)."""
        data_fd, index_fd = self._fds[f"{table}.json"], self._fds[f"{table}.idx"]
        index = _read_all(index_fd)
        offsets = struct.unpack(f"<{len(index) // 8}Q", index)
        return _read_all(data_fd), offsets


def _read_all(fd: int) -> bytes:
    """The whole file (one pread returns at most ~2 GiB on Linux, so it may take several)."""
    size = os.fstat(fd).st_size
    parts: list[bytes] = []
    at = 0
    while at < size:
        part = os.pread(fd, size - at, at)
        if not part:
            raise OSError(f"short read of a heads file: {at} of {size} bytes")
        parts.append(part)
        at += len(part)
    return b"".join(parts)


def snapshot_files(
    base: Snapshot | None, changed: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The heads files of `base` with `changed` applied, and the meta that describes them.

    `changed` maps each table to the keys that changed since `base` and their values now
    (None: the key is gone). A table whose shard count stays the same rewrites only the
    shards holding a changed key; any other table is written whole.
    """
    files: dict[str, bytes] = {}
    shards: dict[str, int] = {}
    entries: dict[str, int] = {}
    for table, touched in changed.items():
        # only the layout with entry counts can be patched, and only at the same shard count
        if base is not None and table in base.entries:
            entries[table] = _entries_after(base, table, touched)
            count = shard_count(entries[table])
            patch = count == base.shards[table]
        else:
            patch = False
        if patch and base is not None:
            blobs = _patched(base, table, count, touched)
        else:
            whole = dict(base.items(table)) if base is not None else {}
            whole.update(touched)
            entries[table] = sum(value is not None for value in whole.values())
            count = shard_count(entries[table])
            blobs = _blobs(count, whole)
        offsets = [0]
        for blob in blobs:
            offsets.append(offsets[-1] + len(blob))
        files[f"heads/{table}.json"] = b"".join(blobs)
        files[f"heads/{table}.idx"] = struct.pack(f"<{len(offsets)}Q", *offsets)
        shards[table] = count
    return files, {"heads": shards, ENTRIES: entries}


def _entries_after(base: Snapshot, table: str, touched: Mapping[str, Any]) -> int:
    """How many entries `table` holds once `touched` is applied to `base`."""
    delta = 0
    for key, value in touched.items():
        delta += (value is not None) - (base.get(table, key) is not None)
    return base.entries[table] + delta


def _blobs(count: int, entries: Mapping[str, Any]) -> list[bytes | memoryview]:
    """Every shard's JSON for a table written whole (None values left out)."""
    parts: list[dict[str, Any]] = [{} for _ in range(count)]
    for key, value in entries.items():
        if value is not None:
            parts[shard_of(key, count)][key] = value
    blobs: list[bytes | memoryview] = [
        orjson.dumps(part, option=orjson.OPT_SORT_KEYS) for part in parts
    ]
    return blobs


def _patched(
    base: Snapshot, table: str, count: int, touched: Mapping[str, Any]
) -> list[bytes | memoryview]:
    """The base's shards, with those holding a touched key rewritten (the rest as views)."""
    by_shard: dict[int, list[str]] = {}
    for key in touched:
        by_shard.setdefault(shard_of(key, count), []).append(key)
    data, offsets = base.raw(table)
    view = memoryview(data)
    blobs: list[bytes | memoryview] = []
    for number in range(count):
        keys = by_shard.get(number)
        if keys is None:
            blobs.append(view[offsets[number] : offsets[number + 1]])
            continue
        part = dict(base.shard(table, number))
        for key in keys:
            if touched[key] is None:
                part.pop(key, None)
            else:
                part[key] = touched[key]
        blobs.append(orjson.dumps(part, option=orjson.OPT_SORT_KEYS))
    return blobs
