"""The errors of the projections package, below `LakehouseError` (journal/_errors.py).

::

    LakehouseError
     +-- ProjectionError                          exit 1, HTTP 500
          +-- QueryRefused (ValueError)           exit 3, HTTP 400
          +-- QueryFailed                         exit 3, HTTP 400
          +-- ResultTooLarge (ValueError)         exit 3, HTTP 422
          +-- ValueUnsupported (ValueError)       exit 3, HTTP 406
          +-- EmbedderUnavailable (LookupError)   exit 3, HTTP 400
          +-- ProjectionStopped                   exit 1, HTTP 500
          +-- VectorIndexUnreadable               exit 1, HTTP 500
          +-- ReadModelsTooLarge (MemoryError)    exit 1, HTTP 503

The base is never raised itself: each situation has its leaf.

A refused query names what in it was refused and says what is allowed instead; a
projection that stops on a record names the projection, the seq and the record kind.
"""

from __future__ import annotations

from journal import LakehouseError


class ProjectionError(LakehouseError):
    """Base of the errors raised by the projections package."""

    code = "projection_error"


class QueryRefused(ProjectionError, ValueError):
    """A query was refused before it ran: only one read-only SELECT is accepted."""

    exit_code = 3
    http_status = 400
    code = "query_refused"


class QueryFailed(ProjectionError):
    """A read-only query was accepted but failed (unknown column, bad cast, time limit)."""

    exit_code = 3
    http_status = 400
    code = "query_failed"


class ResultTooLarge(ProjectionError, ValueError):
    """Not even one row of a query's result fits under the byte cap it runs with."""

    exit_code = 3
    http_status = 422
    code = "result_too_large"


class ValueUnsupported(ProjectionError, ValueError):
    """A result holds a value of a type that cannot be written in the format asked for."""

    exit_code = 3
    http_status = 406
    code = "value_unsupported"


class EmbedderUnavailable(ProjectionError, LookupError):
    """The embedder asked for is unknown, or its optional package is not installed."""

    exit_code = 3
    http_status = 400
    code = "embedder_unavailable"


class ProjectionStopped(ProjectionError):
    """A projection with the 'stop' policy could not apply a record and stopped there."""

    code = "projection_stopped"


class ReadModelsTooLarge(ProjectionError, MemoryError):
    """The records after the latest checkpoint are too many to hold in memory as a tail."""

    http_status = 503
    code = "read_models_too_large"


class VectorIndexUnreadable(ProjectionError):
    """A vector index on disk cannot be loaded as it stands: rebuild its projection."""
