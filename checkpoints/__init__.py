"""Snapshot containers: a set of files plus a manifest written last, verified, listed.

`CheckpointStore(root).create(seq, files, meta=...)` writes ``checkpoints/ckpt-<seq>/``
crash-safe: a reader sees the whole checkpoint or none of it. `latest_valid()` picks the
newest checkpoint whose manifest checks out (cheaply, or with every file hashed), and
`verify`, `scan` and `strays` report damage and leftovers. A checkpoint is derived data:
the journal alone can rebuild it. Built on the public API of the journal only.
"""

from checkpoints._checkpoint import (
    FINDING_KEYS,
    Checkpoint,
    CheckpointFile,
    is_checkpoint_name,
)
from checkpoints._errors import (
    CheckpointDamaged,
    CheckpointError,
    CheckpointInvalid,
    CheckpointNotFound,
    CheckpointRefused,
    CheckpointUnreadable,
    CheckpointWriteFailed,
)
from checkpoints._manifest import FORMAT
from checkpoints._store import CheckpointStore, EntryKind, classify_entry
from checkpoints._verified import Verified

__all__ = [
    "FINDING_KEYS",
    "FORMAT",
    "Checkpoint",
    "CheckpointDamaged",
    "CheckpointError",
    "CheckpointFile",
    "CheckpointInvalid",
    "CheckpointNotFound",
    "CheckpointRefused",
    "CheckpointStore",
    "CheckpointUnreadable",
    "CheckpointWriteFailed",
    "EntryKind",
    "Verified",
    "classify_entry",
    "is_checkpoint_name",
]
