"""The playbooks family as one `Plugin`: its fold, API, projections, CLI group, routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse._plugin import Plugin, Setup
from lakehouse.playbooks._api import Playbooks
from lakehouse.playbooks._family import PLAYBOOKS

if TYPE_CHECKING:
    from projections import Projection


def _projections(setup: Setup) -> list[Projection]:
    from lakehouse.playbooks._projection import PlaybookSearchProjection, PlaybooksProjection

    return [PlaybooksProjection(), PlaybookSearchProjection(setup.embedder)]


def _cli() -> Any:
    from lakehouse.playbooks._cli import playbook_group

    return playbook_group


def _routes() -> Any:
    from lakehouse.playbooks._routes import router

    return router


PLUGIN = Plugin(
    PLAYBOOKS, "playbooks", Playbooks, _projections, "playbook", _cli, _routes, route_rank=30
)
