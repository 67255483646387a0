"""The journal as an event feed: pages after a cursor, and a server-sent event stream.

Both stop at the watermark of the read models, so a record is never announced before the
server's reads reflect it: a client that sees seq N in the feed can query seq N's state.
A cursor older than the oldest segment present gets `gap: true` and the checkpoint to
start from instead (or pass `archived=true` to read the archived segments too). Each event's
id is its record's seq, so a client that reconnects with `Last-Event-ID` (as every
EventSource does) resumes after the last record it saw, neither missing nor repeating one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from lakehouse.httpkit import (
    EVENT_STREAM,
    JSON,
    Current,
    Envelope,
    Flag,
    JournalPage,
    Seq,
    Whole,
    accepts,
    dumps,
    errors,
    success,
)
from lakehouse.server._asof import check_as_of
from lakehouse.server._live import live_of

if TYPE_CHECKING:
    from lakehouse import Store
    from lakehouse.server._live import LiveModels

router = APIRouter()
After = Annotated[Seq, Whole, Query(description="Records with a seq above this one.")]
Archived = Annotated[bool, Flag, Query(description="Read the archived segments too (no gap).")]
AsOf = Annotated[
    Seq | None,
    Whole,
    Query(
        description="Records up to this seq at most, the journal as of it (the page's "
        "watermark then); 400 beyond the journal's head."
    ),
]
PAGE = 1000  # records per read of the event stream
KEEPALIVE = 15.0  # seconds between comments on an idle event stream


@dataclass
class Page:
    """Records after a cursor, up to a watermark."""

    records: list[dict[str, Any]] = field(default_factory=list)
    next: int = 0
    gap: bool = False
    first_seq: int | None = None
    full: bool = False  # the limit stopped the read: there may be more
    findings: list[dict[str, Any]] = field(default_factory=list)


def read_page(store: Store, *, after: int, upto: int, limit: int, archived: bool) -> Page:
    """At most `limit` records with `after` < seq <= `upto` (no lock taken)."""
    reading = store.journal.read(after=after, limit=limit, on_damage="report", archived=archived)
    page = Page(next=after)
    for record in reading:
        if record.seq > upto:
            break
        page.records.append(record.to_dict())
        page.next = record.seq
    page.gap, page.first_seq = reading.gap, reading.first_seq
    page.full = len(page.records) >= limit
    page.findings = [finding.to_dict() for finding in reading.findings]
    return page


def covering_checkpoint(store: Store, upto: int) -> dict[str, Any] | None:
    """The newest valid checkpoint at or before `upto`, to start from over a gap."""
    found = store.checkpoints.latest_valid(at_most=upto)
    if found is None:
        return None
    return {"seq": found.seq, "name": found.name, "created_at": found.created_at}


@router.get(
    "/v1/journal",
    response_model=Envelope[JournalPage],
    responses=errors(400),
    dependencies=[Depends(accepts(JSON))],
)
def journal(
    request: Request,
    models: Current,
    *,
    after: After = 0,
    limit: Annotated[
        Annotated[int, Field(ge=1, le=10_000)], Whole, Query(description="Records at most.")
    ] = 500,
    archived: Archived = False,
    as_of: AsOf = None,
) -> Response:
    """Records after the cursor `after`, up to the watermark (or `as_of`), and the cursor to
    pass next."""
    live = live_of(request)
    upto = models.seq if as_of is None else min(check_as_of(live, as_of), models.seq)
    request.state.watermark = upto
    archived = archived or as_of is not None  # the past: archived segments hold it
    page = read_page(live.store, after=after, upto=upto, limit=limit, archived=archived)
    data = {
        "records": page.records,
        "next": page.next,
        "gap": page.gap,
        "first_seq": page.first_seq,
        "checkpoint": covering_checkpoint(live.store, upto) if page.gap else None,
        "findings": page.findings,
    }
    return success(upto, data)


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `record` (id = seq, data = the record as JSON), "
        "`gap` once if the cursor fell into archived records; comments as keep-alives.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **errors(400),
}


@router.get(
    "/v1/journal/stream",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
    dependencies=[Depends(accepts(EVENT_STREAM))],
)
async def journal_stream(
    request: Request,
    models: Current,
    *,
    after: After = 0,
    limit: Annotated[
        Annotated[int, Field(ge=1, le=10**9)] | None,
        Whole,
        Query(description="End after N records."),
    ] = None,
    archived: Archived = False,
    last_event_id: Annotated[
        Seq | None,
        Whole,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event seen (a seq): the stream resumes after it, "
            "whatever `after` says (what an EventSource sends when it reconnects).",
        ),
    ] = None,
    as_of: Annotated[
        Seq | None,
        Whole,
        Query(
            description="End once every record up to this seq is sent (archived ones "
            "too); 400 beyond the journal's head."
        ),
    ] = None,
) -> StreamingResponse:
    """Records after `after` (or the Last-Event-ID header) as server-sent events, live
    (or up to `as_of`, then the stream ends)."""
    live = live_of(request)
    if last_event_id is not None:
        after = last_event_id
    if as_of is not None:
        request.state.watermark = min(check_as_of(live, as_of), models.seq)
        archived = True  # the past: archived segments hold it
    events = _events(live, after, limit=limit, archived=archived, end=as_of)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def _events(
    live: LiveModels, after: int, *, limit: int | None, archived: bool, end: int | None
) -> AsyncIterator[bytes]:
    cursor, sent, first = after, 0, True
    while not live.closing:
        if end is not None and cursor >= end and not first:
            return  # every record up to `end` is sent
        watermark = live.watermark if end is None else min(live.watermark, end)
        if watermark <= cursor and not first:
            await live.changed(watermark, KEEPALIVE)
            if live.watermark == watermark:
                yield b": keep-alive\n\n"
            continue
        size = PAGE if limit is None else min(PAGE, limit - sent)
        page = await run_in_threadpool(
            read_page, live.store, after=cursor, upto=watermark, limit=size, archived=archived
        )
        if first and page.gap:
            gap = {
                "first_seq": page.first_seq,
                "checkpoint": covering_checkpoint(live.store, watermark),
            }
            yield _event("gap", gap)
        first = False
        for record in page.records:
            yield _event("record", record, record["seq"])
        sent += len(page.records)
        if limit is not None and sent >= limit:
            return
        cursor = page.next if page.full else max(cursor, watermark)


def _event(kind: str, data: Any, id: int | None = None) -> bytes:
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {kind}\n".encode() + b"data: " + dumps(data) + b"\n\n"
