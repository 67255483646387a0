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

Each shard is checked as it is read, because the cheap check a command makes of a
checkpoint (`Checkpoint.valid`: sizes only) cannot see a flipped byte, and hashing every
heads file on every command would cost O(heads). The .idx file holds each shard's CRC-32
beside its offset (``head_checks: "crc32"`` in the meta), so reading a shard verifies
exactly the bytes it reads. A checkpoint written before that has no per-shard checksum:
the first read of one of its tables hashes the table's files against the manifest's
sha256, once per `Snapshot`. Either way a mismatch raises `SnapshotDamaged`, never a
head built from damaged bytes (tests/lakehouse/test_heads_damage.py).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from checkpoints import Checkpoint
from journal import file_sha256
from lakehouse._errors import SnapshotDamaged

SHARD_TARGET = 8
ENTRIES = "head_entries"  # the meta key of each table's entry count
CHECKS = "head_checks"  # the meta key saying the .idx files hold each shard's CRC-32
CRC32 = "crc32"
# each table's runs over its sharded files, oldest first: [seq, shards, entries] each, in
# heads/<table>.<seq>.json and .idx (a removed key's value is null); and how many entries
# the sharded files themselves hold
RUNS = "head_runs"
BASE_ENTRIES = "head_base_entries"
# heads/<table>.idx, checked layout: one (offset, CRC-32) entry per shard, then the end
# offset (CRC 0); a shard's start, checksum and end are one 20-byte read
_ENTRY = struct.Struct("<QI")
_SHARD = struct.Struct("<QIQ")
_OFFSET = struct.Struct("<QQ")  # the layout before checksums: a shard's start and end


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
    """The heads stored in one checkpoint, read a shard at a time, each shard verified.

    Checkpoints written before the .idx files list every shard's (offset, length) in
    their meta instead, and no entry counts; they are read as they are (and, having no
    per-shard checksums, verified a whole table at a time against the manifest).
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.seq = checkpoint.seq
        meta = checkpoint.meta
        self.checked = meta.get(CHECKS) == CRC32
        self.shards: dict[str, int] = {}
        self.entries: dict[str, int] = dict(meta.get(ENTRIES, {}))
        self._offsets: dict[str, list[list[int]]] = {}  # the older layout, from the meta
        for table, value in meta.get("heads", {}).items():
            if isinstance(value, list):
                self._offsets[table] = value
            self.shards[table] = len(value) if isinstance(value, list) else int(value)
        self.runs: dict[str, list[tuple[int, int, int]]] = {
            table: [(int(seq), int(shards), int(count)) for seq, shards, count in listed]
            for table, listed in meta.get(RUNS, {}).items()
        }
        self.base_entries: dict[str, int] = {
            table: int(meta.get(BASE_ENTRIES, {}).get(table, count))
            for table, count in self.entries.items()
        }
        self._loaded: dict[tuple[str, int], dict[str, Any]] = {}
        self._hashed: set[str] = set()  # tables verified whole (no per-shard checksums)
        # every file is opened now and read through its descriptor, so a checkpoint pruned
        # or replaced by a rebuild after this point cannot fail a later lookup
        # (tests/projections/test_processes.py); FileNotFoundError here means it already was
        self._fds: dict[str, int] = {}
        try:
            for table in self.shards:
                for name in self._names(table):
                    path = checkpoint.path_of(f"heads/{name}")
                    self._fds[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self.close()
            raise

    def _names(self, table: str) -> list[str]:
        names = [f"{table}.json", f"{table}.idx"]
        if table in self._offsets:
            return names[:1]
        for seq, _, _ in self.runs.get(table, ()):
            names += [f"{table}.{seq}.json", f"{table}.{seq}.idx"]
        return names

    def close(self) -> None:
        """Close the snapshot's files."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)

    def __del__(self) -> None:
        self.close()

    def shard(self, table: str, number: int) -> dict[str, Any]:
        """One shard of a table as a dict; SnapshotDamaged if its bytes do not verify."""
        loaded = self._loaded.get((table, number))
        if loaded is None:
            if self.checked:
                data = self._checked_shard(table, number)
            else:
                self._hash_table(table)
                start, end = self._span(table, number)
                if not 0 <= start <= end <= self.checkpoint.files[f"heads/{table}.json"].size:
                    raise self.damaged(f"{table}.json", f"has no bytes {start}..{end}")
                data = os.pread(self._fds[f"{table}.json"], end - start, start)
            loaded = self._decoded(table, number, data)
        return loaded

    def _run_shard(self, stem: str, number: int) -> dict[str, Any]:
        """One shard of a run (heads/<stem>.json), verified; a removed key's value is None."""
        loaded = self._loaded.get((stem, number))
        if loaded is None:
            loaded = self._decoded(stem, number, self._checked_shard(stem, number))
        return loaded

    def _decoded(self, stem: str, number: int, data: bytes) -> dict[str, Any]:
        """A shard's JSON object (kept for the next lookup); SnapshotDamaged if it is not one."""
        try:
            loaded = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self.damaged(f"{stem}.json", f"shard {number} is not JSON") from exc
        if not isinstance(loaded, dict):
            raise self.damaged(f"{stem}.json", f"shard {number} is not a JSON object")
        self._loaded[stem, number] = loaded
        return loaded

    def _checked_shard(self, table: str, number: int) -> bytes:
        """A shard's bytes, read at the offsets its .idx gives and checked against its CRC."""
        entry = os.pread(self._fds[f"{table}.idx"], _SHARD.size, number * _ENTRY.size)
        if len(entry) != _SHARD.size:
            raise self.damaged(f"{table}.idx", f"is too short for shard {number}")
        start, crc, end = _SHARD.unpack(entry)
        size = self.checkpoint.files[f"heads/{table}.json"].size
        if not start <= end <= size:  # a damaged offset must not make a huge read
            raise self.damaged(f"{table}.idx", f"gives shard {number} bytes {start}..{end}")
        data = os.pread(self._fds[f"{table}.json"], end - start, start)
        if len(data) != end - start or zlib.crc32(data) != crc:
            raise self.damaged(f"{table}.json", f"shard {number} does not match its CRC-32")
        return data

    def _span(self, table: str, number: int) -> tuple[int, int]:
        """Where a shard starts and ends in a checkpoint without per-shard checksums."""
        if table in self._offsets:
            start, length = self._offsets[table][number]
            return start, start + length
        start, end = _OFFSET.unpack(os.pread(self._fds[f"{table}.idx"], 16, number * 8))
        return start, end

    def _hash_table(self, table: str) -> None:
        """Verify a table's files against the manifest's sha256, once (older layouts)."""
        if table in self._hashed:
            return
        for name in self._names(table):
            listed = self.checkpoint.files[f"heads/{name}"]
            if file_sha256(self._fds[name]) != (listed.sha256, listed.size):
                raise self.damaged(name, "does not match the sha256 in its manifest")
        self._hashed.add(table)

    def damaged(self, name: str, what: str) -> SnapshotDamaged:
        """The error for a heads file of this snapshot that does not verify."""
        checkpoint = self.checkpoint.name
        return SnapshotDamaged(
            f"{checkpoint}/heads/{name} {what}",
            hint="the checkpoint's heads are damaged: 'lakehouse doctor --repair' sets the "
            "checkpoint aside and rebuilds it from the journal",
            checkpoint=checkpoint,
            seq=self.seq,
            file=f"heads/{name}",
        )

    def get(self, table: str, key: str) -> Any:
        """The stored value for `key` in `table`, or None: the newest run holding the key
        says, else the sharded files."""
        for seq, count, _ in reversed(self.runs.get(table, ())):
            part = self._run_shard(f"{table}.{seq}", shard_of(key, count))
            if key in part:
                return part[key]
        shards = self.shards.get(table)
        return None if not shards else self.shard(table, shard_of(key, shards)).get(key)

    def items(self, table: str) -> Iterator[tuple[str, Any]]:
        """Every (key, value) of a table."""
        runs = self.runs.get(table)
        if not runs:
            for number in range(self.shards.get(table, 0)):
                yield from self.shard(table, number).items()
            return
        merged: dict[str, Any] = {}
        for number in range(self.shards.get(table, 0)):
            merged.update(self.shard(table, number))
        for seq, _, _ in runs:
            merged.update(self.run_items(table, seq))
        yield from ((key, value) for key, value in merged.items() if value is not None)

    def run_items(self, table: str, seq: int) -> dict[str, Any]:
        """Every key one run of a table holds, with its value (None: removed)."""
        shards = next(count for at, count, _ in self.runs[table] if at == seq)
        out: dict[str, Any] = {}
        for number in range(shards):
            out.update(self._run_shard(f"{table}.{seq}", number))
        return out

    def raw(self, table: str) -> tuple[bytes, tuple[int, ...]]:
        """A table's shard file as it is, and its shards' offsets (.idx layouts only).

        Every shard is verified, as `shard` would: the bytes are copied into the next
        checkpoint as they are, so damage would be carried forward.
        """
        data = _read_all(self._fds[f"{table}.json"])
        index = _read_all(self._fds[f"{table}.idx"])
        if not self.checked:
            self._hash_table(table)
            return data, struct.unpack(f"<{len(index) // 8}Q", index)
        count = self.shards[table]
        if len(index) != (count + 1) * _ENTRY.size:
            raise self.damaged(f"{table}.idx", f"does not hold {count + 1} entries")
        entries = list(_ENTRY.iter_unpack(index))
        offsets = tuple(offset for offset, _ in entries)
        view = memoryview(data)
        for number in range(count):
            start, end = offsets[number], offsets[number + 1]
            if not start <= end <= len(data) or zlib.crc32(view[start:end]) != entries[number][1]:
                raise self.damaged(f"{table}.json", f"shard {number} does not match its CRC-32")
        return data, offsets


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
    base: Snapshot | None, changed: Mapping[str, Mapping[str, Any]], *, seq: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The heads files of `base` with `changed` applied, and the meta that describes them.

    `changed` maps each table to the keys that changed since `base` and their values now
    (None: the key is gone). Given the new checkpoint's `seq`, a table keeps `base`'s files
    (shared: hard links) and the changed keys go in a run of their own over them, merged
    with the newest runs as a table's layers are (`projections.plan`), so a checkpoint
    writes what changed. Without it (a rebuild: the same files for the same heads), or
    when the runs merge into the sharded files, a table whose shard count stays the same
    rewrites only the shards holding a changed key; any other is written whole.
    """
    files: dict[str, Any] = {}
    shards: dict[str, int] = {}
    entries: dict[str, int] = {}
    runs: dict[str, list[list[int]]] = {}
    below: dict[str, int] = {}
    for table, touched in changed.items():
        if seq is not None and base is not None and base.checked and table in base.entries:
            layered = _layered(base, table, touched, seq)
            if layered is not None:
                own, table_runs, base_entries, entries[table] = layered
                if table_runs:
                    runs[table], below[table] = table_runs, base_entries
                files.update(own)
                shards[table] = base.shards[table]
                continue
        # only the layout with entry counts can be patched, and only at the same shard count
        if base is not None and table in base.entries and not base.runs.get(table):
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
        files[f"heads/{table}.json"] = b"".join(blobs)
        files[f"heads/{table}.idx"] = _index(blobs)
        shards[table] = count
    meta: dict[str, Any] = {"heads": shards, ENTRIES: entries, CHECKS: CRC32}
    if runs:
        meta |= {RUNS: runs, BASE_ENTRIES: below}
    return files, meta


def _layered(
    base: Snapshot, table: str, touched: Mapping[str, Any], seq: int
) -> tuple[dict[str, Any], list[list[int]], int, int] | None:
    """A table's files as `base`'s, shared, with `touched` in a run over them: (files,
    runs, entries of the sharded files, entries in all); None if it is written whole."""
    from projections import plan

    listed = base.runs.get(table, [])
    counts = [base.base_entries[table], *(count for _, _, count in listed)]
    merge = plan(counts, len(touched)) if touched else 0
    if merge == len(counts):
        return None
    kept = listed[: len(listed) - merge]
    names = [f"{table}.json", f"{table}.idx"]
    names += [f"{table}.{at}.{kind}" for at, _, _ in kept for kind in ("json", "idx")]
    checkpoint = base.checkpoint
    files: dict[str, Any] = {f"heads/{name}": checkpoint.shared(f"heads/{name}") for name in names}
    runs = [list(run) for run in kept]
    total = base.entries[table]
    if touched:
        total = _entries_after(base, table, touched)
        merged: dict[str, Any] = {}
        for at, _, _ in listed[len(listed) - merge :]:
            merged.update(base.run_items(table, at))
        merged.update(touched)
        count = shard_count(len(merged))
        blobs = _blobs(count, merged, removed=True)
        files[f"heads/{table}.{seq}.json"] = b"".join(blobs)
        files[f"heads/{table}.{seq}.idx"] = _index(blobs)
        runs.append([seq, count, len(merged)])
    return files, runs, base.base_entries[table], total


def _index(blobs: list[bytes | memoryview]) -> bytes:
    """The .idx of a table's shards: each one's offset and CRC-32, then the end offset."""
    index = bytearray()
    offset = 0
    for blob in blobs:
        index += _ENTRY.pack(offset, zlib.crc32(blob))
        offset += len(blob)
    index += _ENTRY.pack(offset, 0)
    return bytes(index)


def _entries_after(base: Snapshot, table: str, touched: Mapping[str, Any]) -> int:
    """How many entries `table` holds once `touched` is applied to `base`."""
    delta = 0
    for key, value in touched.items():
        delta += (value is not None) - (base.get(table, key) is not None)
    return base.entries[table] + delta


def _blobs(
    count: int, entries: Mapping[str, Any], *, removed: bool = False
) -> list[bytes | memoryview]:
    """Every shard's JSON for a table written whole (None values left out), or for a run
    (`removed`: a None value says the key is gone, and is kept)."""
    parts: list[dict[str, Any]] = [{} for _ in range(count)]
    for key, value in entries.items():
        if value is not None or removed:
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
