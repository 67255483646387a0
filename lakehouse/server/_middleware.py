"""Plain ASGI middleware, outermost first: the access log, the watermark header, the bearer
token, the body cap, and the last resort that turns an unexpected exception into a 500
envelope.

They are plain ASGI (not Starlette's BaseHTTPMiddleware) so event streams pass through
unbuffered, and so a refused request is answered before its body is read.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lakehouse.httpkit import (
    WATERMARK_HEADER,
    BodyTooLarge,
    InternalError,
    Unauthorized,
    send_failure,
)
from lakehouse.server._config import MAX_TOKEN_BYTES

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("lakehouse.server")
access_log = logging.getLogger("lakehouse.server.access")
Watermark = Callable[[], int]
OPEN_PATHS = frozenset({"/health"})
MAX_LOGGED_PATH = 512  # characters of a path an access-log line holds
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")  # and space: a line splits on it


class AccessLog:
    """One line per request on `lakehouse.server.access` (INFO), once its answer is sent:
    method, path, status, milliseconds and the watermark it carried.

    The path goes as sent (percent-encoded), without its query string, any space or
    control character escaped (a line cannot be forged); no header is logged, so neither
    is the token.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: Any = "-"
        watermark = "-"

        async def noting(message: Message) -> None:
            nonlocal status, watermark
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    if key == b"x-lakehouse-watermark":
                        watermark = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            raw = scope.get("raw_path")  # as sent, percent-encoded: no space, no newline
            path = raw.decode("latin-1") if isinstance(raw, bytes) else scope.get("path", "")
            method, path = _printable(scope.get("method", "")), _printable(path.split("?")[0])
            access_log.info(
                "%s %s %s %.1fms watermark=%s", method, path, status, elapsed, watermark
            )


def _printable(text: str) -> str:
    if len(text) > MAX_LOGGED_PATH:
        text = text[:MAX_LOGGED_PATH] + "..."
    return _UNPRINTABLE.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


class WatermarkHeader:
    """Add `X-Lakehouse-Watermark` to every response: the watermark the request held."""

    def __init__(self, app: ASGIApp, watermark: Watermark) -> None:
        self.app = app
        self.watermark = watermark

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                held = state.get("watermark")
                value = str(held if held is not None else self.watermark()).encode()
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k != b"x-lakehouse-watermark"
                ]
                message = {
                    **message,
                    "headers": [*headers, (WATERMARK_HEADER.lower().encode(), value)],
                }
            await send(message)

        await self.app(scope, receive, send_with_header)


class BearerAuth:
    """Refuse (401) every request but /health without `Authorization: Bearer <token>`.

    Any of `tokens` will do (two while one is rotated out). Each is compared with
    `hmac.compare_digest` on bytes, all of them every time, so the time taken does not
    say which matched; no token is ever logged, and a header longer than any token is
    refused without a comparison.
    """

    def __init__(self, app: ASGIApp, tokens: tuple[bytes, ...], watermark: Watermark) -> None:
        self.app = app
        self.tokens = tokens
        self.watermark = watermark

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        error = Unauthorized(
            "this request needs the server's bearer token",
            hint="send the header 'Authorization: Bearer <token>' (never the token in the URL)",
        )
        await send_failure(scope, receive, send, self.watermark(), error)

    def _authorized(self, scope: Scope) -> bool:
        values = [value for key, value in scope["headers"] if key == b"authorization"]
        if len(values) != 1 or len(values[0]) > MAX_TOKEN_BYTES + 16:
            return False
        scheme, _, given = values[0].partition(b" ")
        if scheme.lower() != b"bearer":
            return False
        given = given.strip()
        matches = [hmac.compare_digest(given, token) for token in self.tokens]
        return any(matches)


class BodyLimit:
    """Refuse (413) a request body larger than `limit` bytes, before a route reads it."""

    def __init__(self, app: ASGIApp, limit: int, watermark: Watermark) -> None:
        self.app = app
        self.limit = limit
        self.watermark = watermark

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:  # read it all now (at most `limit` bytes), then replay it to the route
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
        await self.app(
            scope, _replay([{"type": "http.request", "body": bytes(body)}], receive), send
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(
            f"the request body is over {self.limit:,} bytes",
            hint="send a shorter query; bind large values as params",
            limit=self.limit,
        )
        await send_failure(scope, receive, send, self.watermark(), error)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive that gives `messages` first, then defers to `then` (e.g. a disconnect)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


class CatchAll:
    """The last resort: an unexpected exception becomes a 500 envelope and a log line."""

    def __init__(self, app: ASGIApp, watermark: Watermark) -> None:
        self.app = app
        self.watermark = watermark

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started or scope["type"] != "http":
                raise
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            error = InternalError(
                f"the server failed on this request ({type(exc).__name__})",
                hint="this is a bug in lakehouse; the server log has the traceback",
            )
            await send_failure(scope, receive, send, _state_watermark(scope, self.watermark), error)


def _state_watermark(scope: Scope, watermark: Watermark) -> int:
    held: Any = scope.get("state", {}).get("watermark")
    return int(held) if held is not None else watermark()
