"""The errors a command can end in, below `LakehouseError` (journal/_errors.py).

::

    LakehouseError
     +-- CommandError                            exit 1, HTTP 500
          +-- InvalidInput (ValueError)          exit 3, HTTP 400
          +-- Conflict                           exit 4, HTTP 409
          +-- NotFound (LookupError)             exit 5, HTTP 404
          +-- ObjectWriteFailed (OSError)        exit 1, HTTP 500
          +-- RecordUnfoldable                   (a record its family cannot fold)
     +-- CheckpointInvalid (checkpoints/_errors.py)
          +-- SnapshotDamaged                    exit 7, HTTP 500

    UserWarning
     +-- DamageWarning                           shown by the CLI as warning: + hint:

A base is never raised itself: each situation has its leaf, which keeps its base's exit
code, HTTP status and ``code`` unless the tree above gives its own.

Every one names the thing at fault in its fields and says what to do next in its hint.
A refused command has appended nothing.
"""

from __future__ import annotations

from typing import Any

from checkpoints import CheckpointInvalid
from journal import LakehouseError


class CommandError(LakehouseError):
    """Base of the errors a family command raises when it refuses to run."""

    code = "command_error"


class InvalidInput(CommandError, ValueError):
    """The input is malformed or breaks a rule; the field at fault is named."""

    exit_code = 3
    http_status = 400
    code = "invalid_input"


class Conflict(CommandError):
    """The command contradicts the current state: a stale rev or a different fingerprint."""

    exit_code = 4
    http_status = 409
    code = "conflict"


class NotFound(CommandError, LookupError):
    """The entity the command names does not exist."""

    exit_code = 5
    http_status = 404
    code = "not_found"


class ObjectWriteFailed(CommandError, OSError):
    """A file under objects/ could not be written (a full disk, a quota, a size limit).

    Nothing is left of it and nothing was appended; the OSError is chained, its errno in
    the fields.
    """

    code = "object_write_failed"


class RecordUnfoldable(CommandError):
    """A record its family cannot fold: an unknown kind or schema version, or an entity
    no earlier record created (a damaged or edited journal, or a newer lakehouse's)."""


class SnapshotDamaged(CheckpointInvalid):
    """A checkpoint's heads snapshot does not match its checksums: it must not be trusted.

    Commands never let it out: they fold from an older checkpoint or genesis instead and
    warn (`DamageWarning`). Only a caller of `lakehouse._snapshot.Snapshot` sees it.
    """

    code = "snapshot_damaged"


class DamageWarning(UserWarning):
    """Something derived was found damaged and worked around; the result is still right."""

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields
