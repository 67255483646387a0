"""The families of this lakehouse: adding a family is one folder and one line here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse._family import Family

if TYPE_CHECKING:
    from lakehouse._store import Store
    from projections import Projection


def families() -> list[Family[Any]]:
    """One Family object per family, in a fixed order."""
    from lakehouse.catalog._family import CATALOG
    from lakehouse.playbooks._family import PLAYBOOKS
    from lakehouse.sessions._family import SESSIONS
    from lakehouse.traces._family import TRACES

    return [CATALOG, TRACES, SESSIONS, PLAYBOOKS]


def interfaces() -> dict[str, Callable[[Store], Any]]:
    """The attribute of `Store` each family's Python API lives under, and its factory."""
    from lakehouse.catalog._api import Datasets
    from lakehouse.playbooks._api import Playbooks
    from lakehouse.sessions._api import Sessions
    from lakehouse.traces._api import Traces

    return {"datasets": Datasets, "traces": Traces, "sessions": Sessions, "playbooks": Playbooks}


def projections(root: Path, *, embedder: str | None = None) -> list[Projection]:
    """Every projection of the store at `root`, in a fixed order."""
    from lakehouse._journal_table import JournalProjection
    from lakehouse.catalog._projection import CatalogProjection
    from lakehouse.playbooks._projection import PlaybookSearchProjection, PlaybooksProjection
    from lakehouse.sessions._projection import SessionsProjection
    from lakehouse.traces._projection import TraceSearchProjection, TracesProjection

    others: list[Projection] = [
        JournalProjection(),
        TracesProjection(),
        TraceSearchProjection(embedder),
        SessionsProjection(),
        PlaybooksProjection(),
        PlaybookSearchProjection(embedder),
    ]
    reserved = frozenset(table.name for projection in others for table in projection.tables)
    return [CatalogProjection(root, reserved | {"datasets"}), *others]
