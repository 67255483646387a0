"""Read-model machinery: watermarks, lazy catch-up, rebuilds, DuckDB/HNSW/manifest backends.

Knows no family by name; builds on checkpoints and the journal.
"""

from journal import LakehouseError


class ProjectionError(LakehouseError):
    """Base of the errors raised by the projections package."""

    code = "projection_error"


__all__ = ["ProjectionError"]
