"""POST /v1/sql: one read-only SELECT over the read models, bounded every way.

The guard (projections/_guard.py) and the locked connection (projections/_sql.py)
refuse anything but one SELECT; the watchdog stops it at the server's time limit; rows
and bytes are capped (`truncated` says so), the bytes as fetched and as encoded, and all
answers in flight share the server's result memory (see _results.py); and at most
`max_queries` run at once (429 beyond, at once: a queue would only hold the slow ones
longer). JSON by default;
`Accept: application/vnd.apache.arrow.stream` gives Arrow IPC and `text/csv` gives CSV,
with the watermark, the row count and the truncation in headers. Values are written by
`projections.Encoding`, as `lakehouse sql` writes them (README, "What a value looks like").
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from lakehouse.httpkit import (
    JSON,
    Envelope,
    Models,
    SqlRequest,
    SqlResult,
    TooManyQueries,
    choose,
    errors,
)
from lakehouse.server._config import config_of
from lakehouse.server._results import ARROW, Lease, encode
from projections import QueryFailed, run

router = APIRouter()
CSV = "text/csv"
FORMATS = {JSON: "json", ARROW: "arrow", CSV: "csv"}  # by media type, the default first
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows: the JSON envelope, Arrow IPC or CSV, as the Accept header asks.",
        "content": {
            ARROW: {"schema": {"type": "string", "format": "binary"}},
            CSV: {"schema": {"type": "string"}},
        },
    },
    **errors(400, 406, 413, 422, 429),
}


class Slots:
    """A bound on the queries running at once; `take` fails at once when all are busy."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    def take(self) -> None:
        """Take a slot, or raise TooManyQueries."""
        if not self._free.acquire(blocking=False):
            raise TooManyQueries(
                f"all {self.size} query slots are busy",
                hint="retry in a moment; slow queries hold their slot until they end",
                limit=self.size,
            )

    def give(self) -> None:
        """Give a slot back."""
        self._free.release()


@router.post("/v1/sql", response_model=Envelope[SqlResult], responses=RESPONSES)
def sql(request: Request, body: SqlRequest, models: Models) -> Response:
    """Run one read-only SELECT (params bind `?` placeholders); rows capped, `truncated` set."""
    config = config_of(request)
    fmt = negotiate(request.headers.get("accept", ""))
    max_rows = config.max_rows if body.max_rows is None else min(body.max_rows, config.max_rows)
    slots: Slots = request.app.state.slots
    lease = Lease(request.app.state.results, config.max_bytes)
    slots.take()
    started = time.monotonic()
    try:
        with models.cursor() as cursor:
            result = run(
                cursor,
                body.sql,
                body.params,
                max_rows=max_rows,
                max_bytes=config.max_bytes,
                timeout=config.sql_timeout,
                charge=lease.take,
            )
        fetched = lease.held
        answer = encode(result, fmt, models.seq, config.max_bytes, lease)
        del result  # its rows are encoded: what they held is free once the table goes
        lease.give(fetched)
    except BaseException as error:
        lease.close()
        if isinstance(error, QueryFailed):  # when it was stopped
            error.fields["elapsed"] = round(time.monotonic() - started, 3)
        raise
    finally:
        slots.give()
    return answer  # it gives back the rest of the lease once it is sent


def negotiate(accept: str) -> str:
    """json, arrow or csv, as the Accept header asks (JSON by default); 406 if it takes none."""
    return FORMATS[choose(accept, list(FORMATS))]
