"""What every HTTP route shares, the server's own and each family's: the one envelope and its
errors, content negotiation, the read models a request holds, parameter types, response
schemas, and rows of our own queries.

A family's routes (`lakehouse/<family>/_routes.py`) import this kit, never
`lakehouse.server`, which mounts them from the registry. Importing it loads FastAPI:
only the server and the routes do.
"""

from lakehouse.httpkit._accept import (
    EVENT_STREAM,
    JSON,
    accepts,
    choose,
)
from lakehouse.httpkit._deps import (
    Current,
    Flag,
    Models,
    PastReads,
    Seq,
    Served,
    Whole,
    errors,
    read_errors,
)
from lakehouse.httpkit._envelope import (
    RETRY_AFTER,
    WATERMARK_HEADER,
    dumps,
    install_handlers,
    scrub,
    send_failure,
    success,
)
from lakehouse.httpkit._errors import (
    AsOfBeyondHead,
    BodyTooLarge,
    FormatUnsupported,
    HttpError,
    InternalError,
    MethodNotAllowed,
    NotCaughtUp,
    RequestInvalid,
    ResultMemoryBusy,
    RouteNotFound,
    ServerError,
    ServerRefused,
    TooManyConnections,
    TooManyQueries,
    Unauthorized,
)
from lakehouse.httpkit._reading import (
    K,
    Name,
    SearchText,
    rows,
    search_hits,
)
from lakehouse.httpkit._schemas import (
    DatasetList,
    Envelope,
    ErrorEnvelope,
    Health,
    JournalPage,
    Row,
    SearchHits,
    SqlRequest,
    SqlResult,
    TraceHistory,
)

__all__ = [
    "EVENT_STREAM",
    "JSON",
    "RETRY_AFTER",
    "WATERMARK_HEADER",
    "AsOfBeyondHead",
    "BodyTooLarge",
    "Current",
    "DatasetList",
    "Envelope",
    "ErrorEnvelope",
    "Flag",
    "FormatUnsupported",
    "Health",
    "HttpError",
    "InternalError",
    "JournalPage",
    "K",
    "MethodNotAllowed",
    "Models",
    "Name",
    "NotCaughtUp",
    "PastReads",
    "RequestInvalid",
    "ResultMemoryBusy",
    "RouteNotFound",
    "Row",
    "SearchHits",
    "SearchText",
    "Seq",
    "Served",
    "ServerError",
    "ServerRefused",
    "SqlRequest",
    "SqlResult",
    "TooManyConnections",
    "TooManyQueries",
    "TraceHistory",
    "Unauthorized",
    "Whole",
    "accepts",
    "choose",
    "dumps",
    "errors",
    "install_handlers",
    "read_errors",
    "rows",
    "scrub",
    "search_hits",
    "send_failure",
    "success",
]
