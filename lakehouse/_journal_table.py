"""The raw `journal` read model: every record, one row each, its payload as JSON text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from lakehouse._columns import columns
from projections import Changes, Event, Policy, Projection, Table

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
    # stop: this table is the history as written, so a row missing from it would be a lie
    # about the journal. Only a record no append would write (a hand edit with a checksum
    # that matches) can stop it, and then only its own queries fail, naming the record
    policy: ClassVar[Policy] = "stop"
    uses_heads = False  # a record its family cannot fold is still a row of the history
    columnar: ClassVar[Mapping[str, str]] = {
        "journal": "SELECT seq, ts, writer, kind, entity, id, rev, payload FROM records"
    }

    def apply(self, event: Event[Any], changes: Changes) -> None:
        """Append the record's row."""
        r = event.record
        changes["journal"].append(
            JOURNAL.row(
                seq=r.seq,
                ts=r.ts,
                writer=r.writer,
                kind=r.kind,
                entity=r.entity,
                id=r.id,
                rev=r.rev,
                payload=orjson.dumps(r.payload).decode(),
            )
        )
