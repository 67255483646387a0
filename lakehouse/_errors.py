"""The errors a command can end in, below `LakehouseError` (journal/_errors.py).

::

    LakehouseError
     +-- CommandError                            exit 1, HTTP 500
          +-- InvalidInput (ValueError)          exit 3, HTTP 400
          +-- Conflict                           exit 4, HTTP 409
          +-- NotFound (LookupError)             exit 5, HTTP 404
     +-- CheckpointInvalid (checkpoints/_errors.py)
          +-- SnapshotDamaged                    exit 7, HTTP 500

Every one names the thing at fault in its fields and says what to do next in its hint.
A refused command has appended nothing.
"""

from __future__ import annotations

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


class SnapshotDamaged(CheckpointInvalid):
    """A checkpoint's heads snapshot does not match its checksums: it must not be trusted.

    Raised by `lakehouse._snapshot.Snapshot` when a shard it reads does not verify.
    """

    code = "snapshot_damaged"

