"""The read-only query endpoint behind `lakehouse serve`: SQL, reads, search, the journal.

`create_app(ServerConfig(root, ...))` gives the ASGI application (FastAPI); the CLI runs
it on uvicorn. Importing this package loads the web stack, so the CLI imports it only
inside `serve`. Modules: `_config` (limits, token, bind check), `_live` (the followed
read models), `_asof` (reads as of a past seq), `_accept` (content negotiation),
`_envelope` and `_middleware` (the one envelope, the watermark header, the token, the body
cap, the access log), `_reads`, `_sql_route` and `_journal_feed` (the routes), `_results`
(the byte caps and result memory of SQL answers), `_oneshot` (`--get`), `_serving` and
`_connections` (uvicorn with bounded connections: `make_server`).
"""

from lakehouse.httpkit import (
    WATERMARK_HEADER,
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
from lakehouse.server._app import create_app
from lakehouse.server._config import (
    ServerConfig,
    check_bind,
    is_loopback,
    token_from_env,
    token_from_file,
)
from lakehouse.server._oneshot import get
from lakehouse.server._serving import GuardedServer, make_server

__all__ = [
    "WATERMARK_HEADER",
    "AsOfBeyondHead",
    "BodyTooLarge",
    "FormatUnsupported",
    "GuardedServer",
    "HttpError",
    "InternalError",
    "MethodNotAllowed",
    "NotCaughtUp",
    "RequestInvalid",
    "ResultMemoryBusy",
    "RouteNotFound",
    "ServerConfig",
    "ServerError",
    "ServerRefused",
    "TooManyConnections",
    "TooManyQueries",
    "Unauthorized",
    "check_bind",
    "create_app",
    "get",
    "is_loopback",
    "make_server",
    "token_from_env",
    "token_from_file",
]
