"""The families of this lakehouse: adding a family is one folder and one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lakehouse._family import Family

if TYPE_CHECKING:
    from lakehouse._store import Store


def families() -> list[Family]:
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
