"""The catalog read models: the `datasets` table, a view per dataset, and catalog.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import orjson

from lakehouse._columns import columns, json_text
from lakehouse.catalog._manifest import manifest_bytes
from lakehouse.catalog._models import KINDS, DatasetHead
from projections import Changes, Event, Projection, ReadModels, Table
from projections import literal as sql_literal
from projections import quote as sql_quote

DATASETS_TABLE = Table(
    "datasets",
    columns(
        "name VARCHAR",
        "dataset_id VARCHAR",
        "fingerprint VARCHAR",
        "schema VARCHAR",
        "files VARCHAR",
        "file_count BIGINT",
        "rows BIGINT",
        "source VARCHAR",
        "dropped BOOLEAN",
        "rev BIGINT",
        "created_seq BIGINT",
        "seq BIGINT",
        "ingested_at VARCHAR",
    ),
    key="name",
)


class CatalogProjection(Projection):
    """Each dataset's head; its Parquet files as a view under its own name."""

    name = "catalog"
    kinds = frozenset(KINDS)
    policy: ClassVar[Any] = "skip"
    tables: ClassVar[tuple[Table, ...]] = (DATASETS_TABLE,)

    def __init__(self, root: Path, reserved: frozenset[str]) -> None:
        self.root = root
        self.reserved = reserved  # names the other read models take

    def identity(self) -> dict[str, Any]:
        """The identity, with the names a dataset view may not take."""
        return {**super().identity(), "reserved": sorted(self.reserved)}

    def apply(self, event: Event[DatasetHead], changes: Changes) -> None:
        """Set the dataset's row; a name that a read model takes gets no view (dead letter)."""
        head = event.head
        if head is None:
            changes["datasets"].remove(event.record.id)
            return
        files = head.get("files") or []
        if type(files) is not list or not all(_is_file(file) for file in files):
            raise ValueError("files is not a list of objects, each with a path")
        changes["datasets"].put(
            DATASETS_TABLE.row(
                name=head["name"],
                dataset_id=head.get("dataset_id"),
                fingerprint=head.get("fingerprint"),
                schema=json_text(head.get("schema")),
                files=json_text(files),
                file_count=len(files),
                rows=head.get("rows"),
                source=json_text(head.get("source")),
                dropped=bool(head.get("dropped")),
                rev=head["rev"],
                created_seq=head["created_seq"],
                seq=head["seq"],
                ingested_at=head.get("ingested_at"),
            )
        )
        if head["name"].lower() in self.reserved:
            raise ValueError(
                f"dataset {head['name']!r} has the name of a read model table, so it gets no "
                "view of its own; query its files through the datasets table"
            )

    def views(self, models: ReadModels) -> dict[str, str]:
        """A view per dataset that is not dropped, over its Parquet files.

        The files are named relative to the store root, as the catalog records them: the
        read models' connection finds them through its `file_search_path` (the root), so a
        view's SQL, which `duckdb_views()` shows to anyone, names no path of the machine
        (tests/server/test_leaks.py).
        """
        out: dict[str, str] = {}
        rows = models.query("SELECT name, files FROM datasets WHERE NOT dropped ORDER BY name")
        for name, files in rows:
            paths = [file["path"] for file in orjson.loads(files or "[]")]
            if name.lower() in self.reserved or not paths:
                continue
            listed = ", ".join(sql_literal(path) for path in paths)
            out[name] = f"SELECT * FROM read_parquet([{listed}])"
        return out

    def files(self, models: ReadModels) -> dict[str, Any]:
        """catalog.json: the datasets, their schemas, files, rows and fingerprints."""
        return {"catalog.json": manifest(models)}


def _is_file(file: Any) -> bool:
    """What a dataset's view reads of each of its files: the object's path in the store."""
    return type(file) is dict and type(file.get("path")) is str


def manifest(models: ReadModels) -> bytes:
    """The catalog manifest at the models' watermark (the same bytes the heads would give)."""
    names = ["name", "dataset_id", "fingerprint", "schema", "files", "rows", "rev", "seq"]
    rows = models.query(f"SELECT {', '.join(names)} FROM {sql_quote('datasets')} WHERE NOT dropped")
    datasets = []
    for row in rows:
        dataset = dict(zip(names, row, strict=True))
        for key in ("schema", "files"):
            dataset[key] = orjson.loads(dataset[key]) if dataset[key] else None
        datasets.append(dataset)
    return manifest_bytes(datasets, models.seq)
