"""The errors of the query endpoint, below `LakehouseError` (journal/_errors.py).
::

    LakehouseError
     +-- ServerError                                exit 1, HTTP 500
          +-- InternalError                         exit 1, HTTP 500  (a bug: logged)
          +-- ServerRefused (ValueError)            exit 3, HTTP 500  (refused to start)
          +-- Unauthorized (PermissionError)        exit 1, HTTP 401
          +-- RouteNotFound (LookupError)           exit 5, HTTP 404
          +-- MethodNotAllowed                      exit 2, HTTP 405
          +-- AsOfBeyondHead (ValueError)           exit 3, HTTP 400
          +-- FormatUnsupported (ValueError)        exit 3, HTTP 406
          +-- BodyTooLarge (ValueError)             exit 3, HTTP 413
          +-- RequestInvalid (ValueError)           exit 3, HTTP 422
          +-- TooManyQueries                        exit 6, HTTP 429
          +-- ResultMemoryBusy                      exit 6, HTTP 429
          +-- NotCaughtUp (TimeoutError)            exit 6, HTTP 503
          +-- TooManyConnections                    exit 6, HTTP 503
          +-- HttpError                             exit 1, the status Starlette raised

Every response that is not a success carries one of these (or another LakehouseError)
in the error envelope: its code, message, hint and fields, with its HTTP status.
"""

from __future__ import annotations

from journal import LakehouseError


class ServerError(LakehouseError):
    """Base of the errors raised by the query endpoint."""

    code = "server_error"


class InternalError(ServerError):
    """An unexpected exception inside a request; the server log holds the traceback."""

    code = "internal_error"


class ServerRefused(ServerError, ValueError):
    """The server refused to start: an unsafe bind, or a token it cannot trust."""

    exit_code = 3
    code = "server_refused"


class Unauthorized(ServerError, PermissionError):
    """The request carries no bearer token, or not the right one."""

    http_status = 401
    code = "unauthorized"


class RouteNotFound(ServerError, LookupError):
    """No route answers this path."""

    exit_code = 5
    http_status = 404
    code = "route_not_found"


class MethodNotAllowed(ServerError):
    """The route exists but not for this method (the endpoint only reads)."""

    exit_code = 2
    http_status = 405
    code = "method_not_allowed"


class AsOfBeyondHead(ServerError, ValueError):
    """`as_of` names a seq the journal has not reached: that state has no answer yet."""

    exit_code = 3
    http_status = 400
    code = "as_of_beyond_head"


class FormatUnsupported(ServerError, ValueError):
    """The Accept header takes no format the route gives, or the result cannot be given in
    the format it asks for."""

    exit_code = 3
    http_status = 406
    code = "format_unsupported"


class BodyTooLarge(ServerError, ValueError):
    """The request body is larger than the server accepts."""

    exit_code = 3
    http_status = 413
    code = "body_too_large"


class RequestInvalid(ServerError, ValueError):
    """A parameter or the body does not match what the route declares."""

    exit_code = 3
    http_status = 422
    code = "invalid_request"


class TooManyQueries(ServerError):
    """Every query slot is taken; retry shortly."""

    exit_code = 6
    http_status = 429
    code = "too_many_queries"


class ResultMemoryBusy(ServerError):
    """The answers in flight hold the server's result memory; retry shortly."""

    exit_code = 6
    http_status = 429
    code = "result_memory_busy"


class NotCaughtUp(ServerError, TimeoutError):
    """The server did not reach the `min_seq` asked for within its wait."""

    exit_code = 6
    http_status = 503
    code = "not_caught_up"


class TooManyConnections(ServerError):
    """Every connection the server allows is busy with a request; retry shortly."""

    exit_code = 6
    http_status = 503
    code = "too_many_connections"


class HttpError(ServerError):
    """A status Starlette raised that no class above names; the answer keeps that status."""

    code = "http_error"
