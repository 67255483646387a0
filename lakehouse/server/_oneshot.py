"""Answer one GET in-process, with no socket: `lakehouse serve --get PATH`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message


def get(app: ASGIApp, target: str) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body the application gives to `GET target`."""
    return asyncio.run(_get(app, target))


async def _get(app: ASGIApp, target: str) -> tuple[int, dict[str, str], bytes]:
    path, _, query = target.partition("?")
    path = "/" + path.lstrip("/")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"accept", b"application/json")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }
    status, body = 500, bytearray()
    headers: dict[str, str] = {}
    sent = asyncio.Event()
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await sent.wait()  # no disconnect until the whole response is in
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update((k.decode(), v.decode()) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                sent.set()

    await app(scope, receive, send)
    return status, headers, bytes(body)
