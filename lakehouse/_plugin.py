"""`Plugin`: one family as the store, the command line and the server see it.

Each family's `__init__` exports one `PLUGIN`; the registry (lakehouse/_registry.py) is
the tuple of them. The store builds each family's API from it and asks it for the
family's projections; the root command group lists its CLI group by name and imports it
only when it is run or listed; the server mounts its HTTP routes. The projections, the
group and the routes are loaded by functions, so a mutation verb imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse._family import Family
from lakehouse._kernel import Host

if TYPE_CHECKING:
    from projections import Projection


@dataclass(frozen=True)
class Setup:
    """What a family's projections are built from: the store root, the embedder, and the
    table names the other projections own (for a family whose tables users name)."""

    root: Path
    embedder: str | None = None
    reserved: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plugin:
    """A family's parts: its fold, its API, its projections, its CLI group, its routes."""

    family: Family[Any]
    attribute: str  # the Store attribute its API lives under: store.traces
    api: Callable[[Host], Any]  # the API class, built over the store as a Host
    projections: Callable[[Setup], list[Projection]]
    command: str  # the name of its CLI group: `lakehouse trace ...`
    cli: Callable[[], Any]  # its click group, imported when run or listed
    routes: Callable[[], Any] | None = None  # its FastAPI router, imported by the server
    # its tables are named by users (datasets): built after the others, with their names
    # reserved, so no dataset can shadow a read model
    names_tables: bool = False
    # where its routes mount among the families' (lower first), so `/openapi.json` lists
    # its paths in a fixed order that need not be the registry's (a new family: after all)
    route_rank: int = 100
