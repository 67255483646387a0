"""What a family declares: its entity, its record kinds and how its records fold into heads.

A family (catalog, traces, sessions, playbooks) is one folder under `lakehouse/`; the
store knows it only through a `Family`. Each record kind carries a schema version (the
record's `v`); a record written at an older version is upcast, one version at a time,
before it is folded, so a journal written today stays readable after a schema change.

An entity's state after its latest record is its *head*: a JSON object, typed per family
as a TypedDict in the family's `_models.py` (`TraceHead`, `DatasetHead`, ...). A `Family`
is generic in its head; code that handles the heads of any family sees a `Head`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from journal import Record
from lakehouse._errors import RecordUnfoldable

Head = Mapping[str, Any]  # the head of an entity of any family, as stored and served
H = TypeVar("H", bound=Head)  # one family's head type
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """A record kind: its name, the schema version written today, and its upcasters."""

    name: str
    version: int = 1
    upcasters: Mapping[int, Upcaster] = field(default_factory=dict)  # from v to v + 1

    def upcast(self, record: Record) -> dict[str, Any]:
        """The record's payload at today's schema version."""
        payload, v = record.payload, record.v
        if v == self.version:
            return payload
        if v > self.version:
            raise RecordUnfoldable(
                f"record seq {record.seq} ({record.kind}) has schema version {v}; this "
                f"lakehouse knows versions up to {self.version}",
                hint="a newer lakehouse wrote this journal: upgrade lakehouse-journal",
                seq=record.seq,
                kind=record.kind,
            )
        while v < self.version:
            upcaster = self.upcasters.get(v)
            if upcaster is None:
                raise RecordUnfoldable(
                    f"no upcaster for {record.kind} from schema version {v}",
                    hint="this is a bug in lakehouse: every old version needs an upcaster",
                    seq=record.seq,
                    kind=record.kind,
                )
            payload, v = upcaster(dict(payload)), v + 1
        return payload


def unknown_entity(record: Record) -> RecordUnfoldable:
    """The error for a record about an entity no earlier record created (a damaged journal)."""
    return RecordUnfoldable(
        f"record seq {record.seq} ({record.kind}) is about {record.entity} {record.id}, "
        "which no earlier record created",
        hint="the journal is damaged or was edited: run 'lakehouse doctor --verify-journal'",
        seq=record.seq,
        kind=record.kind,
        entity=record.entity,
        id=record.id,
    )


@dataclass(frozen=True)
class Bulk:
    """A family's fold from genesis in SQL, over a DuckDB table `records` of the raw records
    (seq, ts, writer, kind, entity, id, rev, v, payload JSON): see lakehouse/_bulk.py.

    `prepare` makes the relations the family's projections select their tables from
    (`Projection.columnar`) and `refusals` reads. `refusals` selects the seq of every
    record of the family this SQL cannot take exactly as `Family.fold` and the
    projections do; any such record sends the whole fold back to Python, record by
    record. `heads` reads every head and secondary index from what `prepare` made, by
    table then key, each as its JSON text (decoding it must give what `fold` gives; the
    key order may differ). Each (table, JSON column, text column) of `sorted_json` gets
    the JSON as compact text with sorted keys (`lakehouse._columns.json_text`), which SQL
    cannot write.
    """

    prepare: tuple[str, ...]
    refusals: str
    heads: Callable[[Any], dict[str, dict[str, str]]]
    sorted_json: tuple[tuple[str, str, str], ...] = ()


class Family(Generic[H]):
    """Base of the four families: subclasses set the names and define `fold` over heads H."""

    name: str = ""  # the family, plural: "traces"
    entity: str = ""  # the entity its records are about: "trace"
    kinds: Mapping[str, Kind] = {}
    indexes: tuple[str, ...] = ()  # secondary lookups it keeps, e.g. content hash -> id
    # kinds whose fold starts a head afresh, never reading the one before (trace.added):
    # folding one needs no lookup in the checkpoint's heads
    creates: frozenset[str] = frozenset()
    bulk: ClassVar[Bulk | None] = None  # its fold in SQL, if it has one

    def fold(self, head: H | None, record: Record, payload: dict[str, Any]) -> H | None:
        """The entity's head after `record` (None: the entity is gone)."""
        raise NotImplementedError

    def index_entries(self, record: Record, payload: dict[str, Any]) -> list[tuple[str, str]]:
        """(index, key) pairs that now point at this record's entity (among others)."""
        return []

    def kind(self, record: Record) -> Kind:
        """The Kind of one of this family's records; unknown kinds stop the fold."""
        found = self.kinds.get(record.kind)
        if found is None:
            raise RecordUnfoldable(
                f"record seq {record.seq} has kind {record.kind!r}, unknown to the "
                f"{self.name} family",
                hint="a newer lakehouse wrote this journal: upgrade lakehouse-journal",
                seq=record.seq,
                kind=record.kind,
            )
        return found
