"""The sessions family as one `Plugin`: its fold, API, projections, CLI group, routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse._plugin import Plugin, Setup
from lakehouse.sessions._api import Sessions
from lakehouse.sessions._family import SESSIONS

if TYPE_CHECKING:
    from projections import Projection


def _projections(setup: Setup) -> list[Projection]:
    from lakehouse.sessions._projection import SessionsProjection

    return [SessionsProjection()]


def _cli() -> Any:
    from lakehouse.sessions._cli import session_group

    return session_group


def _routes() -> Any:
    from lakehouse.sessions._routes import router

    return router


PLUGIN = Plugin(
    SESSIONS, "sessions", Sessions, _projections, "session", _cli, _routes, route_rank=40
)
