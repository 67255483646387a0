"""A projection: a named, versioned function from records to read-model tables.

A projection declares the record kinds it reads, its tables, its version and what to do
with a record it cannot apply (its *policy*: ``stop``, or ``skip`` it into a dead-letter
list, never silently). A stop stops that projection alone: it takes no record after the
one it could not apply, its tables answer every query with the error, and every other
projection goes on. Its fingerprint hashes all of that, so a change of code or schema
is seen as a stale projection and rebuilt. A projection never reads the journal itself:
it is fed `Event`s, each a record with its upcast payload and the entity's head after
it, by whoever folds the journal (the lakehouse layer), and it writes `TableChanges`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

import orjson

from journal import Record
from projections._errors import ProjectionStopped
from projections._table import Table, TableChanges

if TYPE_CHECKING:
    from projections._models import ReadModels

Policy = Literal["stop", "skip"]
H = TypeVar("H", bound=Mapping[str, Any])  # the head type of the family a projection reads


class Event(NamedTuple, Generic[H]):
    """A record as a projection sees it: the payload upcast, the entity's head after it.

    Generic in the head's type, which this package does not know: a family's projection
    takes ``Event[TraceHead]`` (say) in its `apply`, so mypy checks the keys it reads
    from the head (``head["uid"]``; not those of ``head.get``) against the family's
    TypedDict, at no cost when it runs.
    """

    record: Record
    payload: dict[str, Any]
    head: H | None


class Projection:
    """Base of every projection: subclasses set the class attributes and define `apply`."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    kinds: ClassVar[frozenset[str]] = frozenset()  # empty: every record
    policy: ClassVar[Policy] = "stop"
    tables: ClassVar[tuple[Table, ...]] = ()
    # False: `apply` reads only the record, never the head, so it is fed even a record its
    # family cannot fold (the raw journal); True: such a record goes to `policy`
    uses_heads: ClassVar[bool] = True

    def identity(self) -> dict[str, Any]:
        """Everything the projection's output depends on besides the journal."""
        return {
            "name": self.name,
            "version": self.version,
            "kinds": sorted(self.kinds),
            "policy": self.policy,
            "tables": {table.name: table.describe() for table in self.tables},
        }

    @property
    def fingerprint(self) -> str:
        """A short hash of `identity()`: when it changes, the projection is rebuilt."""
        blob = orjson.dumps(self.identity(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()[:16]

    def reads(self, record: Record) -> bool:
        """True if this projection reads records of this kind."""
        return not self.kinds or record.kind in self.kinds

    def apply(self, event: Event[Any], changes: Changes) -> None:
        """Apply one record to the projection's tables."""
        raise NotImplementedError

    def views(self, models: ReadModels) -> dict[str, str]:
        """Extra views (name -> SELECT) over the materialised tables, e.g. one per dataset."""
        return {}

    def files(self, models: ReadModels) -> dict[str, Any]:
        """Extra checkpoint files: relative path -> bytes, or a callback writing the file."""
        return {}


@dataclass
class DeadLetter:
    """A record a projection with the skip policy could not apply, and why."""

    projection: str
    seq: int
    kind: str
    entity: str
    id: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        """The dead letter as JSON."""
        return dict(self.__dict__)


@dataclass
class Changes:
    """What a run of records did to one projection's tables, and what it could not apply."""

    projection: Projection
    tables: dict[str, TableChanges] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    watermark: int = 0
    stopped: ProjectionStopped | None = None  # set once a stop projection meets its record

    def __post_init__(self) -> None:
        for table in self.projection.tables:
            self.tables.setdefault(table.name, TableChanges(table))

    def __getitem__(self, table: str) -> TableChanges:
        return self.tables[table]

    def feed(self, event: Event[Any]) -> None:
        """Apply `event` under the projection's policy; the watermark moves unless it stops."""
        if self.stopped is not None:
            return  # a stopped projection takes nothing after the record it stopped at
        try:
            self.projection.apply(event, self)
        except Exception as error:  # a projection bug or a record it cannot take
            self.refuse(event.record, error)
            return
        self.watermark = event.record.seq

    def refuse(self, record: Record, error: Exception) -> None:
        """Follow the policy for a record that cannot be applied: a dead letter, or stop."""
        if self.stopped is not None:
            return
        what = f"{type(error).__name__}: {error}"
        name = self.projection.name
        if self.projection.policy == "stop":
            self.stopped = ProjectionStopped(
                f"projection {name} cannot apply record seq {record.seq} ({record.kind}): {what}",
                hint=f"its tables answer no query until it can: fix the projection, then run "
                f"'lakehouse projections rebuild {name}' (a record at fault is shown by "
                f"'lakehouse journal tail --after {record.seq - 1} --limit 1')",
                projection=name,
                seq=record.seq,
                kind=record.kind,
            )
            self.stopped.__cause__ = error
            self.watermark = record.seq - 1  # it holds every record before that one
            return
        self.dead_letters.append(
            DeadLetter(name, record.seq, record.kind, record.entity, record.id, what)
        )
        self.watermark = record.seq

    def stop_as(self, recorded: dict[str, Any]) -> None:
        """Take over a stop a checkpoint recorded (see `stop_record`)."""
        fields = dict(recorded.get("fields") or {})
        self.stopped = ProjectionStopped(
            str(recorded.get("message")), hint=recorded.get("hint"), **fields
        )
        self.watermark = int(fields.get("seq") or 1) - 1

    def stop_record(self) -> dict[str, Any] | None:
        """The stop as JSON, for a checkpoint's meta (None: the projection did not stop)."""
        stop = self.stopped
        if stop is None:
            return None
        return {"message": stop.message, "hint": stop.hint, "fields": stop.fields}
