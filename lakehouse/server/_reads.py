"""GET /health: liveness, and the served watermark against the journal's head.

The families' read routes live in their folders (`lakehouse/<family>/_routes.py`) and
are mounted from the registry (lakehouse/server/_app.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from lakehouse.httpkit import JSON, Current, Envelope, Health, accepts, errors, scrub, success
from lakehouse.server._live import live_of

router = APIRouter(dependencies=[Depends(accepts(JSON))])  # JSON only: else 406


@router.get("/health", response_model=Envelope[Health], responses=errors())
def health(request: Request, models: Current) -> Response:
    """Liveness, open without a token: the journal's head, the served watermark, the lag."""
    live = live_of(request)
    head = max(live.store.journal.head_seq or 0, models.seq)
    data = {
        "status": "ok" if live.last_error is None else "degraded",
        "head_seq": head,
        "watermark": models.seq,
        "lag": head - models.seq,
        "watching": live.watching,
        "error": scrub(live.last_error, live.store.root),  # an OS error may name a file
    }
    return success(models.seq, data)
