"""The traces family as one `Plugin`: its fold, API, projections, CLI group, routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse._plugin import Plugin, Setup
from lakehouse.traces._api import Traces
from lakehouse.traces._family import TRACES

if TYPE_CHECKING:
    from projections import Projection


def _projections(setup: Setup) -> list[Projection]:
    from lakehouse.traces._projection import TraceSearchProjection, TracesProjection

    return [TracesProjection(), TraceSearchProjection(setup.embedder)]


def _cli() -> Any:
    from lakehouse.traces._cli import trace_group

    return trace_group


def _routes() -> Any:
    from lakehouse.traces._routes import router

    return router


PLUGIN = Plugin(TRACES, "traces", Traces, _projections, "trace", _cli, _routes, route_rank=20)
