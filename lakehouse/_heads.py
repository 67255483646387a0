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

A snapshot shard that does not verify (`SnapshotDamaged`) is never used: given a
`fallback`, the heads start again from the older snapshot (or genesis) it gives and the
records after that up to `seq`, so every answer is what it would be without the damage
(tests/lakehouse/test_heads_damage.py). What the lookup was doing is then done again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, overload

import orjson

from journal import Record
from lakehouse._errors import SnapshotDamaged
from lakehouse._family import Family, H, Head
from lakehouse._snapshot import Snapshot

KEYS = "keys"  # the pseudo-table of idempotency keys
_Key = tuple[str, str]
# given the damage and the seq the heads are at: a snapshot older than the damaged one
# (None: genesis) and the records after it up to that seq
Fallback = Callable[[SnapshotDamaged, int], tuple[Snapshot | None, Iterable[Record]]]


class Heads:
    """The state commands are validated against, as of `seq`."""

    def __init__(
        self,
        families: Iterable[Family[Any]],
        snapshot: Snapshot | None = None,
        *,
        fallback: Fallback | None = None,
    ) -> None:
        self.families = {family.entity: family for family in families}
        self.snapshot = snapshot
        self.seq = snapshot.seq if snapshot else 0
        self.fallback = fallback
        self._rebases = 0  # how many times a damaged snapshot was replaced
        self._pending: dict[_Key, list[Record]] = {}
        self._folded: dict[_Key, Head | None] = {}
        self._index: dict[_Key, list[str]] = {}
        self._keys: dict[str, dict[str, Any]] = {}
        # tables set in bulk as JSON text (`put(..., encoded=True)`): read like a snapshot's
        # entries, decoded when asked for, and handed to the snapshot writer as they are
        self._encoded: dict[str, dict[str, str | bytes]] = {}

    def _rebase(self, damage: SnapshotDamaged) -> None:
        """Start again from the fallback's older snapshot: the damaged one is never read again.

        Without a fallback the damage is raised. Heads folded from shards that verified
        were right, but they are dropped with the rest: everything is folded anew.
        """
        if self.fallback is None or self.snapshot is None:
            raise damage
        snapshot, records = self.fallback(damage, self.seq)
        fresh = Heads(self.families.values(), snapshot, fallback=self.fallback)
        fresh.advance(records)
        damaged, self.snapshot = self.snapshot, snapshot
        damaged.close()
        self._pending, self._folded = fresh._pending, fresh._folded
        self._index, self._keys = fresh._index, fresh._keys
        self._rebases += 1

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
        family = self.families.get(record.entity)
        if family is None:
            self.seq = record.seq
            return None
        payload = family.kind(record).upcast(record)
        key = (record.entity, record.id)
        if key not in self._folded:
            if record.kind in family.creates:  # the head before it does not matter
                self._pending.pop(key, None)
                self._folded[key] = None
            else:
                # the head before it, with `seq` not yet moved: a fallback then folds up to
                # the record before this one, never this one twice
                self.get(record.entity, record.id)
        self.seq = record.seq
        head = self._folded[key] = family.fold(self._folded[key], record, payload)
        self._note(family, record, payload)
        return payload, head

    def _note(self, family: Family[Any], record: Record, payload: dict[str, Any]) -> None:
        """Index entries and the idempotency key a record brings."""
        for index, value in family.index_entries(record, payload):
            ids = self._index.setdefault((index, value), [])
            if record.id in ids:  # the latest last, as `lookup` gives it
                ids.remove(record.id)
            ids.append(record.id)
        idempotency = payload.get("idempotency")
        if isinstance(idempotency, dict) and isinstance(idempotency.get("key"), str):
            self._keys[idempotency["key"]] = _key_result(record, idempotency)

    def put(self, table: str, values: Mapping[str, Any], *, encoded: bool = False) -> None:
        """Set every entry of a table (an entity, a family's index, or the keys) at once:
        what a fold in bulk computed (lakehouse/_bulk.py), in place of folding records.

        `encoded`: each value is its JSON text, kept as it is until someone asks for it
        (a rebuild only writes them into the checkpoint's snapshot). Only for a table
        nothing was folded into, on heads without a snapshot.
        """
        if encoded:
            if self.snapshot is not None:
                raise ValueError("encoded heads go only on heads without a snapshot")
            self._encoded.setdefault(table, {}).update(values)
        elif table == KEYS:
            self._keys.update(values)
        elif table in self.families:
            self._folded.update(((table, key), value) for key, value in values.items())
        else:
            self._index.update(((table, key), list(ids)) for key, ids in values.items())

    @overload
    def get(self, entity: Family[H], id: str) -> H | None: ...
    @overload
    def get(self, entity: str, id: str) -> Head | None: ...

    def get(self, entity: Family[Any] | str, id: str) -> Head | None:
        """The head of one entity, or None if it does not exist.

        Given the family rather than its entity's name, the head has the family's type
        (`heads.get(TRACES, uid)` is a `TraceHead`): the family folded it.
        """
        if not isinstance(entity, str):
            entity = entity.entity
        key = (entity, id)
        if key in self._folded:
            return self._folded[key]
        head: Head | None = self._stored(entity, id)
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
        found: list[str] = list(self._stored(index, value) or ())
        for id in self._index.get((index, value), ()):
            if id in found:
                found.remove(id)
            found.append(id)
        return found

    def idempotent(self, key: str) -> dict[str, Any] | None:
        """The first result of the command sent with idempotency key `key`, or None."""
        found = self._keys.get(key)
        if found is None:
            stored = self._stored(KEYS, key)
            found = self._keys.get(key, stored)  # a fallback may have read it from the tail
        return found

    def _stored(self, table: str, key: str) -> Any:
        """The snapshot's value for `key` in `table` (None without a snapshot)."""
        while self.snapshot is not None:
            try:
                return self.snapshot.get(table, key)
            except SnapshotDamaged as damage:
                self._rebase(damage)
        text = self._encoded.get(table, {}).get(key)
        return None if text is None else orjson.loads(text)

    def _stored_items(self, table: str) -> dict[str, Any]:
        """Every entry of a snapshot table ({} without a snapshot)."""
        while self.snapshot is not None:
            try:
                return dict(self.snapshot.items(table))
            except SnapshotDamaged as damage:
                self._rebase(damage)
        return {key: orjson.loads(text) for key, text in self._encoded.get(table, {}).items()}

    @overload
    def all(self, entity: Family[H]) -> Iterator[tuple[str, H]]: ...
    @overload
    def all(self, entity: str) -> Iterator[tuple[str, Head]]: ...

    def all(self, entity: Family[Any] | str) -> Iterator[tuple[str, Head]]:
        """Every existing head of an entity (loads the whole snapshot of it); typed as `get`."""
        if not isinstance(entity, str):
            entity = entity.entity
        ids: dict[str, None] = dict.fromkeys(self._stored_items(entity))
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
        while True:  # a fallback in the middle changes what differs from which snapshot
            rebases = self._rebases
            out = self._changed()
            if self._rebases == rebases:
                return out

    def _changed(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {KEYS: dict(self._keys)}
        for entity, family in self.families.items():
            out[entity] = {}
            for index in family.indexes:
                out[index] = {}
        for table, texts in self._encoded.items():  # written as they are (orjson.Fragment)
            encoded = {key: orjson.Fragment(text) for key, text in texts.items()}
            out[table] = encoded | out.get(table, {})
        for entity, id in [*self._pending, *self._folded]:
            out[entity][id] = self.get(entity, id)
        for index, value in self._index:
            out.setdefault(index, {})[value] = self.lookup(index, value)
        return out

    def tables(self) -> dict[str, dict[str, Any]]:
        """Every table in full (entities, indexes, keys)."""
        while True:
            rebases = self._rebases
            out: dict[str, dict[str, Any]] = {}
            for table, changed in self.changed().items():
                whole = self._stored_items(table)  # the encoded ones decoded
                whole.update(
                    (key, value)
                    for key, value in changed.items()
                    if key not in whole or not isinstance(value, orjson.Fragment)
                )
                out[table] = {key: value for key, value in whole.items() if value is not None}
            if self._rebases == rebases:
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
