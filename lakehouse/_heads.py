"""Entity heads: the latest checkpoint's snapshot plus the records after it, folded lazily.

Validating a command needs the heads of the few entities it names, never all of them,
so heads are loaded on demand. The snapshot in a checkpoint is sharded by a hash of the
id (~`SHARD_TARGET` heads a shard, packed in ``heads/<table>.json``, with the shards'
offsets in ``heads/<table>.idx``) and the records after the checkpoint are kept by
entity and folded only when that entity is asked for. One head costs two small reads
whatever the size of the snapshot, so the cost of one command, and of opening the read
models, grows with the records since the latest checkpoint, not with the length of
history (tools/bench/command_bench.py, tools/bench/projection_bench.py row C).

Besides the entity heads, two lookups: secondary indexes of a family (``index``, e.g. a
trace's content hash -> its uid) and the results of commands sent with an idempotency key
(``keys``).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from checkpoints import Checkpoint
from journal import Record
from lakehouse._family import Family, Head

SHARD_TARGET = 8
_OFFSET = struct.Struct("<QQ")  # a shard's start and end, from heads/<table>.idx
KEYS = "keys"  # the pseudo-table of idempotency keys
_Key = tuple[str, str]


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

    A table is two files: ``heads/<table>.json``, its shards' JSON objects one after the
    other, and ``heads/<table>.idx``, where shard N starts and ends (little-endian uint64
    N and N+1). The checkpoint's meta holds only each table's shard count, so neither
    the manifest nor the reads of one head grow with the number of heads. (Checkpoints
    written before the .idx files list every shard's (offset, length) in their meta
    instead; they are read as they are.)
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.seq = checkpoint.seq
        self.shards: dict[str, int] = {}
        self._offsets: dict[str, list[list[int]]] = {}  # the older layout, from the meta
        for table, value in checkpoint.meta.get("heads", {}).items():
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
                for name in (f"{table}.json", f"{table}.idx"):
                    if name.endswith(".idx") and table in self._offsets:
                        continue
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
        """One shard of a table (an entity, an index or the keys) as a dict."""
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


class Heads:
    """The state commands are validated against, as of `seq`."""

    def __init__(self, families: Iterable[Family], snapshot: Snapshot | None = None) -> None:
        self.families = {family.entity: family for family in families}
        self.snapshot = snapshot
        self.seq = snapshot.seq if snapshot else 0
        self._pending: dict[_Key, list[Record]] = {}
        self._folded: dict[_Key, Head | None] = {}
        self._index: dict[_Key, list[str]] = {}
        self._keys: dict[str, dict[str, Any]] = {}

    def advance(self, records: Iterable[Record]) -> None:
        """Take in records after `seq` (in seq order): heads fold them when asked."""
        for record in records:
            self.seq = record.seq
            family = self.families.get(record.entity)
            if family is None:
                continue  # a journal note, or a family this version does not know
            payload = family.kind(record).upcast(record)
            key = (record.entity, record.id)
            if key in self._folded:
                self._folded[key] = family.fold(self._folded[key], record, payload)
            else:
                self._pending.setdefault(key, []).append(record)
            self._note(family, record, payload)

    def take(self, record: Record) -> tuple[dict[str, Any], Head | None] | None:
        """Take in one record and fold its entity now: its upcast payload and the new head.

        None for a record no family owns (a journal note). Projections are fed this way,
        one record at a time, each with the head it leaves behind.
        """
        self.seq = record.seq
        family = self.families.get(record.entity)
        if family is None:
            return None
        payload = family.kind(record).upcast(record)
        key = (record.entity, record.id)
        if key not in self._folded:
            if record.kind in family.creates:  # the head before it does not matter
                self._pending.pop(key, None)
                self._folded[key] = None
            else:
                self.get(record.entity, record.id)  # the snapshot's head and pending records
        head = self._folded[key] = family.fold(self._folded[key], record, payload)
        self._note(family, record, payload)
        return payload, head

    def _note(self, family: Family, record: Record, payload: dict[str, Any]) -> None:
        """Index entries and the idempotency key a record brings."""
        for index, value in family.index_entries(record, payload):
            ids = self._index.setdefault((index, value), [])
            if record.id in ids:  # the latest last, as `lookup` gives it
                ids.remove(record.id)
            ids.append(record.id)
        idempotency = payload.get("idempotency")
        if isinstance(idempotency, dict) and isinstance(idempotency.get("key"), str):
            self._keys[idempotency["key"]] = _key_result(record, idempotency)

    def get(self, entity: str, id: str) -> Head | None:
        """The head of one entity, or None if it does not exist."""
        key = (entity, id)
        if key in self._folded:
            return self._folded[key]
        head = self.snapshot.get(entity, id) if self.snapshot else None
        family = self.families[entity]
        for record in self._pending.pop(key, ()):
            head = family.fold(head, record, family.kind(record).upcast(record))
        self._folded[key] = head
        return head

    def lookup(self, index: str, value: str) -> list[str]:
        """Every id a family's secondary index maps `value` to, the latest last.

        An entry is never removed: the family checks the heads it names (a trace that took
        a content hash may have changed its content since).
        """
        found: list[str] = list(self.snapshot.get(index, value) or ()) if self.snapshot else []
        for id in self._index.get((index, value), ()):
            if id in found:
                found.remove(id)
            found.append(id)
        return found

    def idempotent(self, key: str) -> dict[str, Any] | None:
        """The first result of the command sent with idempotency key `key`, or None."""
        found = self._keys.get(key)
        if found is None and self.snapshot:
            found = self.snapshot.get(KEYS, key)
        return found

    def all(self, entity: str) -> Iterator[tuple[str, Head]]:
        """Every existing head of an entity (loads the whole snapshot of it)."""
        ids: dict[str, None] = {}
        if self.snapshot:
            ids.update((id, None) for id, _ in self.snapshot.items(entity))
        ids.update((id, None) for (kind, id) in (*self._pending, *self._folded) if kind == entity)
        for id in ids:
            head = self.get(entity, id)
            if head is not None:
                yield id, head

    def tables(self) -> dict[str, dict[str, Any]]:
        """Every table in full (entities, indexes, keys): what a checkpoint stores."""
        out: dict[str, dict[str, Any]] = {}
        for entity, family in self.families.items():
            out[entity] = dict(self.all(entity))
            for index in family.indexes:
                out[index] = dict(self.snapshot.items(index)) if self.snapshot else {}
        for index, value in self._index:
            out.setdefault(index, {})[value] = self.lookup(index, value)
        out[KEYS] = dict(self.snapshot.items(KEYS)) if self.snapshot else {}
        out[KEYS].update(self._keys)
        return out


def snapshot_files(
    tables: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, bytes], dict[str, int]]:
    """The checkpoint files for `tables` (see `Snapshot`), and each table's shard count."""
    files: dict[str, bytes] = {}
    shards: dict[str, int] = {}
    for table, entries in tables.items():
        count = shard_count(len(entries))
        parts: list[dict[str, Any]] = [{} for _ in range(count)]
        for key, value in entries.items():
            parts[shard_of(key, count)][key] = value
        blobs = [orjson.dumps(part, option=orjson.OPT_SORT_KEYS) for part in parts]
        offsets, at = [0], 0
        for blob in blobs:
            at += len(blob)
            offsets.append(at)
        files[f"heads/{table}.json"] = b"".join(blobs)
        files[f"heads/{table}.idx"] = struct.pack(f"<{len(offsets)}Q", *offsets)
        shards[table] = count
    return files, shards


def _key_result(record: Record, idempotency: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "kind": record.kind,
        "entity": record.entity,
        "id": record.id,
        "rev": record.rev,
        "request": idempotency.get("request"),
    }
