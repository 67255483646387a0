"""The trace read models: `traces` (current heads), `trace_revisions`, `trace_search`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lakehouse._columns import columns, json_text, text_list
from lakehouse._search import SearchProjection, search_table
from lakehouse.traces._bulk import REVISIONS, SEARCH, TRACES
from lakehouse.traces._models import KINDS, SUPERSEDED, TraceHead
from projections import Changes, Event, Policy, Projection, Table

TRACES_TABLE = Table(
    "traces",
    columns(
        "uid VARCHAR",
        "text VARCHAR",
        "content VARCHAR",
        "tags VARCHAR[]",
        "content_hash VARCHAR",
        "predecessor VARCHAR",
        "successor VARCHAR",
        "retired BOOLEAN",
        "retired_reason VARCHAR",
        "replays BIGINT",
        "rev BIGINT",
        "created_seq BIGINT",
        "created_at VARCHAR",
        "updated_seq BIGINT",
        "updated_at VARCHAR",
    ),
    key="uid",
)
REVISIONS_TABLE = Table(
    "trace_revisions",
    columns(
        "uid VARCHAR",
        "rev BIGINT",
        "seq BIGINT",
        "kind VARCHAR",
        "ts VARCHAR",
        "text VARCHAR",
        "content VARCHAR",
        "tags VARCHAR[]",
        "content_hash VARCHAR",
        "retired BOOLEAN",
    ),
    order=("seq",),
)
_KINDS = frozenset(KINDS)


class TracesProjection(Projection):
    """Each trace's head, and a row per record with the head it left behind."""

    name = "traces"
    kinds = _KINDS
    # skip: a record that one entity's row cannot hold (written around the commands'
    # validation) is a dead letter the doctor names; every other entity stays current,
    # where a stop would freeze the whole table at that record for good
    policy: ClassVar[Policy] = "skip"
    tables: ClassVar[tuple[Table, ...]] = (TRACES_TABLE, REVISIONS_TABLE)
    columnar: ClassVar[Mapping[str, str]] = {"traces": TRACES, "trace_revisions": REVISIONS}

    def apply(self, event: Event[TraceHead], changes: Changes) -> None:
        """Set the trace's row and append its revision."""
        head, record = event.head, event.record
        if head is None:
            changes["traces"].remove(record.id)
            return
        content, tags = json_text(head.get("content")), text_list(head.get("tags"))
        row = TRACES_TABLE.row(
            uid=head["uid"],
            text=head.get("text"),
            content=content,
            tags=tags,
            content_hash=head.get("content_hash"),
            predecessor=head.get("predecessor"),
            successor=head.get("successor"),
            retired=bool(head.get("retired")),
            retired_reason=head.get("retired_reason"),
            replays=head.get("replays", 0),
            rev=head["rev"],
            created_seq=head["created_seq"],
            created_at=head["created_at"],
            updated_seq=head["updated_seq"],
            updated_at=head["updated_at"],
        )
        revision = REVISIONS_TABLE.row(
            uid=head["uid"],
            rev=head["rev"],
            seq=record.seq,
            kind=record.kind,
            ts=record.ts,
            text=head.get("text"),
            content=content,
            tags=tags,
            content_hash=head.get("content_hash"),
            retired=bool(head.get("retired")),
        )
        revisions = changes["trace_revisions"]
        revisions.table.check(revision)  # both rows or neither: a record is applied whole
        changes["traces"].put(row)
        revisions.appended.append(revision)


class TraceSearchProjection(SearchProjection):
    """The text of every trace that has not been superseded, for similarity search."""

    name = "trace_search"
    kinds = _KINDS
    tables: ClassVar[tuple[Table, ...]] = (search_table("trace_search", "uid"),)
    columnar: ClassVar[Mapping[str, str]] = {"trace_search": SEARCH}

    def apply(self, event: Event[TraceHead], changes: Changes) -> None:
        """Index the trace's current text; a superseded trace leaves the index."""
        head, record = event.head, event.record
        table = changes["trace_search"]
        if head is None or record.kind == SUPERSEDED.name or head.get("successor"):
            table.remove(record.id)
            return
        text = head.get("text") or json_text(head.get("content")) or ""
        table.put(
            table.table.row(
                uid=head["uid"],
                text=text,
                tags=text_list(head.get("tags")),
                retired=bool(head.get("retired")),
            )
        )
