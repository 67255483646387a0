"""GET /v1/playbooks/search: the playbooks family's read on the endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from lakehouse.httpkit import (
    JSON,
    Envelope,
    K,
    Models,
    SearchHits,
    SearchText,
    accepts,
    read_errors,
    search_hits,
    success,
)

router = APIRouter(dependencies=[Depends(accepts(JSON))])  # JSON only: else 406


@router.get("/v1/playbooks/search", response_model=Envelope[SearchHits], responses=read_errors(400))
def search_playbooks(models: Models, q: SearchText, k: K = 10) -> Response:
    """The playbooks whose query is most like `q` (retired ones left out)."""
    hits = search_hits(models, "playbook_search", "playbooks", q, k)
    return success(models.seq, {"hits": hits})
