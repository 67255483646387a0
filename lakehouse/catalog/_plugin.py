"""The catalog family as one `Plugin`: its fold, API, projection, CLI group, routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse._plugin import Plugin, Setup
from lakehouse.catalog._api import Datasets
from lakehouse.catalog._family import CATALOG

if TYPE_CHECKING:
    from projections import Projection


def _projections(setup: Setup) -> list[Projection]:
    from lakehouse.catalog._projection import CatalogProjection

    # "datasets" is the catalog's own table: no dataset may take that name either
    return [CatalogProjection(setup.root, setup.reserved | {"datasets"})]


def _cli() -> Any:
    from lakehouse.catalog._cli import dataset_group

    return dataset_group


def _routes() -> Any:
    from lakehouse.catalog._routes import router

    return router


PLUGIN = Plugin(
    CATALOG,
    "datasets",
    Datasets,
    _projections,
    "dataset",
    _cli,
    _routes,
    names_tables=True,
    route_rank=10,
)
