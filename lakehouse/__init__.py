"""The lakehouse: families, commands, projections in use, and the entry points (CLI, server).

`Store.open(root)` is the Python API: ``store.traces.add(text=...)`` and friends, raising
the same typed errors the CLI maps to exit codes. Importing this package is cheap: the
CLI's mutation verbs must start fast.
"""

from lakehouse._errors import (
    CommandError,
    Conflict,
    DamageWarning,
    InvalidInput,
    NotFound,
    ObjectWriteFailed,
    RecordUnfoldable,
)
from lakehouse._kernel import Outcome
from lakehouse._store import Store

__all__ = [
    "CommandError",
    "Conflict",
    "DamageWarning",
    "InvalidInput",
    "NotFound",
    "ObjectWriteFailed",
    "Outcome",
    "RecordUnfoldable",
    "Store",
]
