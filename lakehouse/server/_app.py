"""The ASGI application: `create_app(config)` wires the routes, the envelope and the guards.

Read-only by construction: the store is opened without taking its lock (no command is
ever run), the read models are in-memory DuckDB over checkpoint Parquet and the journal's
tail, and no route writes. The watcher thread starts with the application's lifespan and
stops with it; without a lifespan (`--get`), a `min_seq` request refreshes by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lakehouse import Store, _registry
from lakehouse.httpkit import install_handlers
from lakehouse.server import _journal_feed, _reads, _sql_route
from lakehouse.server._asof import AsOfReads
from lakehouse.server._config import ServerConfig
from lakehouse.server._live import LiveModels
from lakehouse.server._middleware import (
    AccessLog,
    BearerAuth,
    BodyLimit,
    CatchAll,
    WatermarkHeader,
)
from lakehouse.server._results import ResultMemory
from lakehouse.server._sql_route import Slots

DESCRIPTION = """Read-only queries over a lakehouse-journal store.

Every response is one JSON envelope (`ok`, `status`, `watermark`, then `data` or
`error`) and carries the `X-Lakehouse-Watermark` header: the journal seq its data
reflects. Pass `min_seq=N` to any route to wait (bounded) until the server reflects seq N,
and `as_of=N` to any data route to read the state as it was at seq N.
When the server has a token, every route but /health needs `Authorization: Bearer <token>`.
"""


def create_app(config: ServerConfig) -> FastAPI:
    """The application serving the store at `config.root` (StoreNotFound if there is none)."""
    store = Store.open(config.root)
    live = LiveModels(store, config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if config.watch:
            live.start()
        try:
            yield
        finally:
            live.stop()
            store.close()

    app = FastAPI(
        title="lakehouse-journal query endpoint",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN: not for a data server
        redoc_url=None,
    )
    app.state.config = config
    app.state.live = live
    app.state.slots = Slots(config.max_queries)
    app.state.as_of = AsOfReads(live, config.max_queries)
    app.state.results = ResultMemory(config.result_memory)
    app.include_router(_reads.router)
    # each family's routes, from its folder, in their rank's order (/openapi.json's order)
    for plugin in sorted(_registry.PLUGINS, key=lambda plugin: plugin.route_rank):
        if plugin.routes is not None:
            app.include_router(plugin.routes())
    for module in (_sql_route, _journal_feed):
        app.include_router(module.router)
    install_handlers(app)

    def watermark() -> int:
        return live.watermark

    # added innermost first: the watermark header wraps everything, even a 401
    app.add_middleware(CatchAll, watermark=watermark)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, watermark=watermark)
    if config.tokens:
        app.add_middleware(BearerAuth, tokens=config.tokens, watermark=watermark)
    app.add_middleware(WatermarkHeader, watermark=watermark)
    app.add_middleware(AccessLog)  # outermost: it sees every answer, 401s and 500s too
    return app
