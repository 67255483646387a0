"""How the root group opens the store: the whole `Store`, for its own verbs, and as the
opener the family groups reach through `lakehouse.clikit.open_store` (as a Host)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.clikit import state

if TYPE_CHECKING:
    from lakehouse._store import Store


def open_at(root: Path, lock_timeout: float) -> Store:
    """Open the store at `root` (exit 5 if there is none); the lakehouse package loads
    here, not when the command line starts."""
    from lakehouse._store import Store

    return Store.open(root, lock_timeout=lock_timeout)


def open_store() -> Store:
    """Open the store named by --store (exit 5 if there is none)."""
    return open_at(state().store, state().lock_timeout)
