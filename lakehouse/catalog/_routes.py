"""GET /v1/datasets and /v1/datasets/{name}: the catalog family's reads on the endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from lakehouse._errors import NotFound
from lakehouse.httpkit import (
    JSON,
    DatasetList,
    Envelope,
    Models,
    Name,
    Row,
    accepts,
    read_errors,
    rows,
    success,
)

router = APIRouter(dependencies=[Depends(accepts(JSON))])  # JSON only: else 406


@router.get("/v1/datasets", response_model=Envelope[DatasetList], responses=read_errors())
def datasets(models: Models) -> Response:
    """The datasets not dropped, by name, with their schema and files."""
    found = rows(models, "SELECT * FROM datasets WHERE NOT dropped ORDER BY name")
    return success(models.seq, {"datasets": found})


@router.get("/v1/datasets/{name}", response_model=Envelope[Row], responses=read_errors(404))
def dataset(models: Models, name: Name) -> Response:
    """One dataset (a dropped one too, with dropped true)."""
    found = rows(models, "SELECT * FROM datasets WHERE name = ?", [name])
    if not found:
        raise NotFound(
            f"no dataset {name!r}",
            hint="list them with GET /v1/datasets",
            entity="dataset",
            id=name,
        )
    return success(models.seq, found[0])
