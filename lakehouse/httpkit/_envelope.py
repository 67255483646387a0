"""One JSON envelope for every response, and the one boundary that turns errors into it.

Success: ``{"ok": true, "status": 200, "watermark": N, "data": ...}``.
Error:   ``{"ok": false, "status": S, "watermark": N, "error": {"code", "message", "hint",
...fields}}``, S taken from the error class. FastAPI's own validation errors (422) and the
404 and 405 of unknown routes and methods come out the same way. Every 429 and 503 also
carries `Retry-After` (seconds).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from journal import LakehouseError
from lakehouse.httpkit._errors import (
    HttpError,
    MethodNotAllowed,
    RequestInvalid,
    RouteNotFound,
    ServerError,
)

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

log = logging.getLogger("lakehouse.server")
WATERMARK_HEADER = "X-Lakehouse-Watermark"
RETRY_STATUSES = frozenset({429, 503})  # every such answer carries Retry-After
RETRY_AFTER = 1  # seconds: slots, result memory and connections free up that fast
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps(value: Any) -> bytes:
    """JSON bytes for any value a query returns (Decimal, bytes, huge integers included)."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except TypeError:  # an integer beyond 64 bits, deep inside: convert it all, then retry
        return orjson.dumps(_plain(value), default=_default, option=_OPTIONS)


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class JSONBody(Response):
    """A response whose body is rendered with orjson (see `dumps`)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """The content as JSON bytes."""
        return dumps(content)


def success(watermark: int, data: Any) -> JSONBody:
    """The success envelope around `data`, at `watermark`."""
    return JSONBody({"ok": True, "status": 200, "watermark": watermark, "data": data})


def failure(
    watermark: int,
    error: LakehouseError,
    headers: dict[str, str] | None = None,
    *,
    root: Path | None = None,
    status: int | None = None,
) -> JSONBody:
    """The error envelope for `error`, with the status its class names (or `status`).

    With `root`, the store's paths in the message and fields read `<store>` (see `scrub`).
    """
    status = error.http_status if status is None else status
    detail = error.to_dict() if root is None else scrub(error.to_dict(), root)
    body = {"ok": False, "status": status, "watermark": watermark, "error": detail}
    if status in RETRY_STATUSES:  # busy or not there yet: say when to come back
        after = str(getattr(error, "retry_after", RETRY_AFTER))
        headers = {"Retry-After": after, **(headers or {})}
    return JSONBody(body, status_code=status, headers=headers)


STORE = "<store>"  # what an answer says instead of the store root's path


def scrub(value: Any, root: Path) -> Any:
    """`value` with every string's mention of the store root (as given or resolved) made
    `<store>`: an error DuckDB or the OS raises may name a file by its absolute path, and
    no answer names a path of the server's machine (tests/server/test_leaks.py)."""
    paths = sorted({str(root.absolute()), str(root.resolve())}, key=len, reverse=True)

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for path in paths:
                item = item.replace(path, STORE)
            return item
        if isinstance(item, dict):
            return {key: clean(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [clean(inner) for inner in item]
        return item

    return clean(value)


async def send_failure(
    scope: Scope, receive: Receive, send: Send, watermark: int, error: LakehouseError
) -> None:
    """Answer an ASGI request with the error envelope (for middleware, before any route)."""
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    await failure(watermark, error, headers)(scope, receive, send)


def watermark_of(request: Request) -> int:
    """The watermark of the models this request holds, else the one served now."""
    held = getattr(request.state, "watermark", None)
    return int(held) if held is not None else int(request.app.state.live.watermark)


def install_handlers(app: FastAPI) -> None:
    """Route every error a request can end in through the envelope."""

    async def lakehouse_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, LakehouseError)
        if error.http_status == 500:
            log.error("%s %s failed: %s", request.method, request.url.path, error.message)
        return failure(watermark_of(request), error, root=request.app.state.config.root)

    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return failure(watermark_of(request), _invalid(error))

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        failed = _http_error(request, error)
        status = error.status_code if isinstance(failed, HttpError) else None
        return failure(watermark_of(request), failed, _headers(error), status=status)

    app.add_exception_handler(LakehouseError, lakehouse_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


def _invalid(error: RequestValidationError) -> RequestInvalid:
    problems = [
        {
            "loc": [str(part) for part in problem.get("loc", ())],
            "message": str(problem.get("msg", "")),
            "type": str(problem.get("type", "")),
        }
        for problem in error.errors()
    ]
    first = problems[0] if problems else {"loc": [], "message": "invalid request"}
    where = ".".join(first["loc"])
    return RequestInvalid(
        f"{where}: {first['message']}" if where else str(first["message"]),
        hint="see /openapi.json for the parameters and body each route takes",
        errors=problems,
    )


def _http_error(request: Request, error: HTTPException) -> ServerError:
    if error.status_code == 404:
        return RouteNotFound(
            f"no route {request.url.path}",
            hint="see /openapi.json for the routes; /health answers without a token",
            path=request.url.path,
        )
    if error.status_code == 405:
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}",
            hint="the endpoint only reads: GET, or POST for /v1/sql",
            method=request.method,
        )
    # any other status Starlette raises: the answer keeps that status (see http_error)
    return HttpError(str(error.detail), hint="see /openapi.json", status=error.status_code)


def _headers(error: HTTPException) -> dict[str, str] | None:
    return dict(error.headers) if error.headers else None
