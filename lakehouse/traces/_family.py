"""How trace records fold into trace heads."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from journal import Record
from lakehouse._family import Bulk, Family, unknown_entity
from lakehouse.traces._bulk import BULK
from lakehouse.traces._models import (
    ADDED,
    CONTENT_INDEX,
    ENTITY,
    KINDS,
    REPLAYED,
    RETIRED,
    REVISED,
    SUPERSEDED,
    UPDATED,
    TraceHead,
)

_BODY: tuple[Literal["text", "content", "tags", "content_hash"], ...] = (
    "text",
    "content",
    "tags",
    "content_hash",
)


class TracesFamily(Family[TraceHead]):
    """Pathway traces: a versioned memory with history."""

    name = "traces"
    entity = ENTITY
    kinds = KINDS
    creates = frozenset({ADDED.name, REVISED.name})
    indexes = (CONTENT_INDEX,)
    bulk: ClassVar[Bulk | None] = BULK

    def fold(
        self, head: TraceHead | None, record: Record, payload: dict[str, Any]
    ) -> TraceHead | None:
        """The trace's head after `record`."""
        kind = record.kind
        if kind in (ADDED.name, REVISED.name):
            head = {
                "uid": record.id,
                "text": None,
                "content": None,
                "predecessor": payload.get("predecessor"),
                "successor": None,
                "retired": False,
                "retired_reason": None,
                "replays": 0,
                "created_seq": record.seq,
                "created_at": record.ts,
                "rev": record.rev,
                "updated_seq": record.seq,
                "updated_at": record.ts,
            }
        elif head is None:
            raise unknown_entity(record)
        else:
            head = {**head, "rev": record.rev, "updated_seq": record.seq, "updated_at": record.ts}
        if kind in (ADDED.name, REVISED.name, UPDATED.name):
            head.update({"text": None, "content": None})
            for key in _BODY:
                if key in payload:
                    head[key] = payload[key]
        elif kind == REPLAYED.name:
            head["replays"] += 1
        elif kind == SUPERSEDED.name:
            head["successor"] = payload["successor"]
        elif kind == RETIRED.name:
            head["retired"], head["retired_reason"] = True, payload.get("reason")
        return head

    def index_entries(self, record: Record, payload: dict[str, Any]) -> list[tuple[str, str]]:
        """A trace's content hash points at the trace that last took that content."""
        content_hash = payload.get("content_hash")
        return [(CONTENT_INDEX, content_hash)] if isinstance(content_hash, str) else []


TRACES = TracesFamily()
