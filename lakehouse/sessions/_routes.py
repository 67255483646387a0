"""GET /v1/sessions/{id}: the sessions family's read on the endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from lakehouse._errors import NotFound
from lakehouse.httpkit import JSON, Envelope, Models, Name, Row, accepts, read_errors, rows, success

router = APIRouter(dependencies=[Depends(accepts(JSON))])  # JSON only: else 406


@router.get("/v1/sessions/{id}", response_model=Envelope[Row], responses=read_errors(404))
def session(models: Models, id: Name) -> Response:
    """A recorded session with its attempts, numbered from 1."""
    found = rows(models, "SELECT * FROM sessions WHERE id = ?", [id])
    if not found:
        raise NotFound(
            f"no session {id!r}",
            hint="list them with POST /v1/sql: SELECT id, outcome FROM sessions",
            entity="session",
            id=id,
        )
    attempts = rows(
        models,
        "SELECT attempt, prompt, raw, verdict FROM session_attempts "
        "WHERE session_id = ? AND seq = ? ORDER BY attempt",
        [id, found[0]["created_seq"]],
    )
    return success(models.seq, {**found[0], "attempts": attempts, "attempt_count": len(attempts)})
