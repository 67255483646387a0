"""GET /v1/traces/search, /v1/traces/{uid} and its history: the traces family's reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from lakehouse._errors import NotFound
from lakehouse.httpkit import (
    JSON,
    Envelope,
    Flag,
    K,
    Models,
    Name,
    Row,
    SearchHits,
    SearchText,
    TraceHistory,
    accepts,
    read_errors,
    rows,
    search_hits,
    success,
)
from lakehouse.traces._api import predecessors
from projections import ReadModels

router = APIRouter(dependencies=[Depends(accepts(JSON))])  # JSON only: else 406


@router.get("/v1/traces/search", response_model=Envelope[SearchHits], responses=read_errors(400))
def search_traces(
    models: Models,
    q: SearchText,
    k: K = 10,
    tag: Annotated[
        str | None, Query(max_length=256, description="Only traces with this tag.")
    ] = None,
    include_retired: Annotated[bool, Flag, Query(description="Retired traces too.")] = False,
) -> Response:
    """The traces whose text is most like `q`; retired ones only when asked."""
    hits = search_hits(
        models, "trace_search", "traces", q, k, tag=tag, include_retired=include_retired
    )
    return success(models.seq, {"hits": hits})


@router.get("/v1/traces/{uid}", response_model=Envelope[Row], responses=read_errors(404))
def trace(models: Models, uid: Name) -> Response:
    """A trace's current head (a retired one too)."""
    return success(models.seq, _trace(models, uid))


@router.get(
    "/v1/traces/{uid}/history", response_model=Envelope[TraceHistory], responses=read_errors(404)
)
def trace_history(models: Models, uid: Name) -> Response:
    """The chain of predecessors from `uid` back to the first trace, with any problems."""

    def find(previous: str) -> dict[str, Any] | None:
        found = rows(models, "SELECT * FROM traces WHERE uid = ?", [previous])
        return found[0] if found else None

    chain, problems = predecessors(_trace(models, uid), find)
    return success(models.seq, {"uid": uid, "chain": chain, "problems": problems})


def _trace(models: ReadModels, uid: str) -> dict[str, Any]:
    found = rows(models, "SELECT * FROM traces WHERE uid = ?", [uid])
    if not found:
        raise NotFound(
            f"no trace {uid!r}",
            hint="search with GET /v1/traces/search?q=...&include_retired=true",
            entity="trace",
            id=uid,
        )
    return found[0]
