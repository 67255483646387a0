"""The families of this lakehouse: adding a family is one folder and one entry in PLUGINS.

The order is the order of everything listed per family: the Store's APIs, the CLI's
groups in help (sorted there by name), and the projections (the `journal` table's
projection, which belongs to no family, comes after the families that name tables, so
`projections status` lists catalog, journal, traces, ...). The server's routes mount by
each plugin's `route_rank` instead, which keeps `/openapi.json` in its published order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse._family import Family
from lakehouse._plugin import Plugin, Setup
from lakehouse.catalog import PLUGIN as CATALOG
from lakehouse.playbooks import PLUGIN as PLAYBOOKS
from lakehouse.sessions import PLUGIN as SESSIONS
from lakehouse.traces import PLUGIN as TRACES

if TYPE_CHECKING:
    from projections import Projection

PLUGINS: tuple[Plugin, ...] = (CATALOG, TRACES, SESSIONS, PLAYBOOKS)


def families() -> list[Family[Any]]:
    """One Family object per family, in the registry's order."""
    return [plugin.family for plugin in PLUGINS]


def projections(root: Path, *, embedder: str | None = None) -> list[Projection]:
    """Every projection of the store at `root`, in a fixed order."""
    from lakehouse._journal_table import JournalProjection

    setup = Setup(root, embedder)
    built = {
        plugin.attribute: plugin.projections(setup) for plugin in PLUGINS if not plugin.names_tables
    }
    others = [JournalProjection(), *(p for projections in built.values() for p in projections)]
    reserved = frozenset(table.name for projection in others for table in projection.tables)
    naming = [
        projection
        for plugin in PLUGINS
        if plugin.names_tables
        for projection in plugin.projections(Setup(root, embedder, reserved))
    ]
    return [*naming, *others]
