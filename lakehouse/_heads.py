"""Entity heads: the latest checkpoint's snapshot plus the records after it, folded lazily.

Validating a command needs the heads of the few entities it names, never all of them,
so heads are loaded on demand: from the latest checkpoint's snapshot (lakehouse/_snapshot.py:
two small reads a head, whatever the size of the snapshot), and the records after the
checkpoint are kept by entity and folded only when that entity is asked for. The cost of
one command, and of opening the read models, therefore grows with the records since the
latest checkpoint, not with the length of history (tools/bench/command_bench.py,
tools/bench/projection_bench.py row C).

Besides the entity heads, two lookups: secondary indexes of a family (``index``, e.g. a
trace's content hash -> its uid) and the results of commands sent with an idempotency key
(``keys``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from journal import Record
from lakehouse._family import Family, Head
from lakehouse._snapshot import Snapshot

KEYS = "keys"  # the pseudo-table of idempotency keys
_Key = tuple[str, str]


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

    def changed(self) -> dict[str, dict[str, Any]]:
        """What differs from the snapshot, by table: each changed key's value (None: gone).

        Every table of every family is listed, changed or not, with the keys; this is
        what a checkpoint's heads are written from (see `lakehouse._snapshot`).
        """
        out: dict[str, dict[str, Any]] = {KEYS: dict(self._keys)}
        for entity, family in self.families.items():
            out[entity] = {}
            for index in family.indexes:
                out[index] = {}
        for entity, id in [*self._pending, *self._folded]:
            out[entity][id] = self.get(entity, id)
        for index, value in self._index:
            out.setdefault(index, {})[value] = self.lookup(index, value)
        return out

    def tables(self) -> dict[str, dict[str, Any]]:
        """Every table in full (entities, indexes, keys)."""
        out: dict[str, dict[str, Any]] = {}
        for table, changed in self.changed().items():
            whole = dict(self.snapshot.items(table)) if self.snapshot else {}
            whole.update(changed)
            out[table] = {key: value for key, value in whole.items() if value is not None}
        return out


def _key_result(record: Record, idempotency: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "kind": record.kind,
        "entity": record.entity,
        "id": record.id,
        "rev": record.rev,
        "request": idempotency.get("request"),
    }
