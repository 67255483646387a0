"""Entity reads and searches, answered from the read models the request holds.

Every answer comes from the same `ReadModels` as the watermark it is sent with, so a
trace, its history and a search agree with each other and with `min_seq`.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from lakehouse._errors import NotFound
from lakehouse._search import search_rows
from lakehouse.server._accept import JSON, accepts
from lakehouse.server._deps import Current, Flag, Models, Whole, errors, live_of, read_errors
from lakehouse.server._envelope import scrub, success
from lakehouse.server._schemas import DatasetList, Envelope, Health, Row, SearchHits, TraceHistory
from lakehouse.traces import predecessors
from projections import ReadModels

router = APIRouter(dependencies=[Depends(accepts(JSON))])  # JSON only: else 406
# columns that hold JSON text in the read models, decoded for the response
JSON_COLUMNS = frozenset({"content", "schema", "files", "source", "timings"})
Name = Annotated[str, Path(min_length=1, max_length=256)]
SearchText = Annotated[
    str, Query(min_length=1, max_length=2000, description="Words to look for; blank finds none.")
]
K = Annotated[
    Annotated[int, Field(ge=1, le=1000)], Whole, Query(description="How many hits at most.")
]


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


@router.get("/v1/datasets", response_model=Envelope[DatasetList], responses=read_errors())
def datasets(models: Models) -> Response:
    """The datasets not dropped, by name, with their schema and files."""
    rows = _rows(models, "SELECT * FROM datasets WHERE NOT dropped ORDER BY name")
    return success(models.seq, {"datasets": rows})


@router.get("/v1/datasets/{name}", response_model=Envelope[Row], responses=read_errors(404))
def dataset(models: Models, name: Name) -> Response:
    """One dataset (a dropped one too, with dropped true)."""
    found = _rows(models, "SELECT * FROM datasets WHERE name = ?", [name])
    if not found:
        raise NotFound(
            f"no dataset {name!r}",
            hint="list them with GET /v1/datasets",
            entity="dataset",
            id=name,
        )
    return success(models.seq, found[0])


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
    hits = _search(models, "trace_search", "traces", q, k, tag=tag, include_retired=include_retired)
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
        found = _rows(models, "SELECT * FROM traces WHERE uid = ?", [previous])
        return found[0] if found else None

    chain, problems = predecessors(_trace(models, uid), find)
    return success(models.seq, {"uid": uid, "chain": chain, "problems": problems})


@router.get("/v1/playbooks/search", response_model=Envelope[SearchHits], responses=read_errors(400))
def search_playbooks(models: Models, q: SearchText, k: K = 10) -> Response:
    """The playbooks whose query is most like `q` (retired ones left out)."""
    return success(models.seq, {"hits": _search(models, "playbook_search", "playbooks", q, k)})


@router.get("/v1/sessions/{id}", response_model=Envelope[Row], responses=read_errors(404))
def session(models: Models, id: Name) -> Response:
    """A recorded session with its attempts, numbered from 1."""
    found = _rows(models, "SELECT * FROM sessions WHERE id = ?", [id])
    if not found:
        raise NotFound(
            f"no session {id!r}",
            hint="list them with POST /v1/sql: SELECT id, outcome FROM sessions",
            entity="session",
            id=id,
        )
    attempts = _rows(
        models,
        "SELECT attempt, prompt, raw, verdict FROM session_attempts "
        "WHERE session_id = ? AND seq = ? ORDER BY attempt",
        [id, found[0]["created_seq"]],
    )
    return success(models.seq, {**found[0], "attempts": attempts, "attempt_count": len(attempts)})


def _search(
    models: ReadModels, projection: str, table: str, q: str, k: int, **options: Any
) -> list[dict[str, Any]]:
    # blank text finds nothing (what counts as blank differs between JSON Schema, pydantic
    # and Python, so the schema cannot refuse it exactly; an empty answer is never wrong)
    if not q.strip():
        return []
    return [_decoded(hit) for hit in search_rows(models, projection, table, q, k, **options)]


def _trace(models: ReadModels, uid: str) -> dict[str, Any]:
    found = _rows(models, "SELECT * FROM traces WHERE uid = ?", [uid])
    if not found:
        raise NotFound(
            f"no trace {uid!r}",
            hint="search with GET /v1/traces/search?q=...&include_retired=true",
            entity="trace",
            id=uid,
        )
    return found[0]


def _rows(models: ReadModels, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of our own query, on a cursor of this request's own, JSON columns decoded."""
    with models.cursor() as cursor:
        cursor.execute(sql, params or [])
        names = [column[0] for column in cursor.description or ()]
        return [_decoded(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for name in JSON_COLUMNS & row.keys():
        if isinstance(row[name], str):
            row[name] = orjson.loads(row[name])
    return row
