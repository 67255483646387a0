"""The errors of the checkpoints package, below `LakehouseError` (journal/_errors.py).

::

    LakehouseError
     +-- CheckpointError                            exit 1, HTTP 500
          +-- CheckpointNotFound (LookupError)      exit 5, HTTP 404
          +-- CheckpointRefused (ValueError)        exit 3, HTTP 400
          +-- CheckpointInvalid                     exit 7, HTTP 500
          |    +-- CheckpointUnreadable             (no manifest that can be read)
          |    +-- CheckpointDamaged                (a file does not match its manifest)
          +-- CheckpointWriteFailed (OSError)       exit 1, HTTP 500

A base is never raised itself: each situation has its leaf, which keeps its base's exit
code, HTTP status and ``code``.

Every error names the checkpoint (``ckpt-<seq>``) and, where there is one, the file at
fault in its fields, and says what to do next in its hint. A refused create has written
nothing; a failed one has published nothing, unless only the last fsync failed (after
the rename: the checkpoint is then whole on disk but may not survive a power cut).
"""

from __future__ import annotations

from journal import LakehouseError


class CheckpointError(LakehouseError):
    """Base of the errors raised by the checkpoints package."""

    code = "checkpoint_error"


class CheckpointNotFound(CheckpointError, LookupError):
    """No checkpoint at that seq, or the checkpoint lists no such file."""

    exit_code = 5
    http_status = 404
    code = "checkpoint_not_found"


class CheckpointRefused(CheckpointError, ValueError):
    """A create was refused before anything was written: the input at fault is named."""

    exit_code = 3
    http_status = 400
    code = "checkpoint_refused"


class CheckpointInvalid(CheckpointError):
    """A checkpoint has no readable manifest, or a file does not match its manifest."""

    exit_code = 7
    code = "checkpoint_invalid"


class CheckpointUnreadable(CheckpointInvalid):
    """A checkpoint has no manifest that can be read, so it holds no files."""


class CheckpointDamaged(CheckpointInvalid):
    """A file of a checkpoint is missing or does not match its manifest's size or sha256."""


class CheckpointWriteFailed(CheckpointError, OSError):
    """A write, fsync or rename failed while creating a checkpoint; the OSError is chained."""

    code = "checkpoint_write_failed"
