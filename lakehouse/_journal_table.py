"""The raw `journal` read model: every record, one row each, its payload as JSON text."""

from __future__ import annotations

from typing import ClassVar

import orjson

from lakehouse._columns import columns
from projections import Changes, Event, Projection, Table

JOURNAL = Table(
    "journal",
    columns(
        "seq BIGINT",
        "ts VARCHAR",
        "writer VARCHAR",
        "kind VARCHAR",
        "entity VARCHAR",
        "id VARCHAR",
        "rev BIGINT",
        "payload VARCHAR",
    ),
    order=("seq",),
)


class JournalProjection(Projection):
    """Every record as written (payload not upcast: this is the raw history)."""

    name = "journal"
    tables: ClassVar[tuple[Table, ...]] = (JOURNAL,)

    def apply(self, event: Event, changes: Changes) -> None:
        """Append the record's row."""
        r = event.record
        changes["journal"].appended.append(
            (r.seq, r.ts, r.writer, r.kind, r.entity, r.id, r.rev, orjson.dumps(r.payload).decode())
        )
