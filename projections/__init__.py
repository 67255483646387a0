"""Read-model machinery: projections, merge-on-read DuckDB views, vector search, SQL guard.

A `Projection` turns records into `Table` rows; `ReadModels` serves them as views in an
in-memory DuckDB that merges a checkpoint's immutable Parquet with the records after it.
`embedder`, `VectorIndex` and `search_merged` give similarity search (an HNSW index per
checkpoint, the tail searched exactly); `connect`, `check_select` and `run` give locked
down, read-only SQL; `Encoding` and `render` write a result as JSON, NDJSON, CSV or a
table, by one set of rules for every type (projections/_values.py). This package knows
no family by name. The heavy parts (numpy, hnswlib, duckdb, pyarrow) load on first use,
so importing it costs a mutation verb nothing.
"""

from __future__ import annotations

import importlib
import typing

from projections._errors import (
    EmbedderUnavailable,
    ProjectionError,
    ProjectionStopped,
    QueryFailed,
    QueryRefused,
    ReadModelsTooLarge,
    ResultTooLarge,
    ValueUnsupported,
    VectorIndexUnreadable,
)
from projections._layers import GROWTH, MAX_LAYERS, Layer, layered, merged_keys, plan
from projections._pin import pin, pinned_directory
from projections._projection import (
    INTERNAL,
    Changes,
    DeadLetter,
    Event,
    Part,
    Policy,
    Projection,
    ReadModels,
)
from projections._table import Column, Row, Table, TableChanges, literal, quote
from projections._text import bare, cell_text, csv_line, table_text, unique_names

if typing.TYPE_CHECKING:
    from projections._embed import Embedder, HashingEmbedder, MiniLMEmbedder, embedder
    from projections._encode import Encoding
    from projections._guard import check_select
    from projections._render import render
    from projections._sql import QueryResult, connect, run
    from projections._vectors import ExactIndex, VectorIndex, search_merged

_LAZY = {
    "Embedder": "projections._embed",
    "HashingEmbedder": "projections._embed",
    "MiniLMEmbedder": "projections._embed",
    "embedder": "projections._embed",
    "Encoding": "projections._encode",
    "render": "projections._render",
    "QueryResult": "projections._sql",
    "check_select": "projections._guard",
    "connect": "projections._sql",
    "run": "projections._sql",
    "ExactIndex": "projections._vectors",
    "VectorIndex": "projections._vectors",
    "search_merged": "projections._vectors",
}


def __getattr__(name: str) -> typing.Any:
    """Load the heavy parts (numpy, hnswlib, duckdb) only when they are asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'projections' has no attribute {name!r}")


__all__ = [
    "GROWTH",
    "INTERNAL",
    "MAX_LAYERS",
    "Changes",
    "Column",
    "DeadLetter",
    "Embedder",
    "EmbedderUnavailable",
    "Encoding",
    "Event",
    "ExactIndex",
    "HashingEmbedder",
    "Layer",
    "MiniLMEmbedder",
    "Part",
    "Policy",
    "Projection",
    "ProjectionError",
    "ProjectionStopped",
    "QueryFailed",
    "QueryRefused",
    "QueryResult",
    "ReadModels",
    "ReadModelsTooLarge",
    "ResultTooLarge",
    "Row",
    "Table",
    "TableChanges",
    "ValueUnsupported",
    "VectorIndex",
    "VectorIndexUnreadable",
    "bare",
    "cell_text",
    "check_select",
    "connect",
    "csv_line",
    "embedder",
    "layered",
    "literal",
    "merged_keys",
    "pin",
    "pinned_directory",
    "plan",
    "quote",
    "render",
    "run",
    "search_merged",
    "table_text",
    "unique_names",
]
