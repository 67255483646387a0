"""The exception tree of the whole project, rooted here at the bottom layer.

::

    LakehouseError                       exit 1, HTTP 500
     +-- JournalError
          +-- StoreNotFound (FileNotFoundError)   exit 5, HTTP 404
          +-- JournalClosed (ValueError)          exit 1, HTTP 500
          +-- InvalidRecord (ValueError)          exit 3, HTTP 400
          |    +-- DraftInvalid                   (its kind, entity, id, rev or v; or no draft)
          |    +-- PayloadInvalid                 (it would not round-trip through JSON)
          |    +-- RecordTooLarge                 exit 3, HTTP 413
          +-- LockTimeout (TimeoutError)          exit 6, HTTP 503
          +-- WriterStopped (OSError)             exit 1, HTTP 500
          +-- JournalDamaged                      exit 7, HTTP 500
               +-- SegmentDamaged                 (a bad checksum, a gap, a bad line)
               +-- UnsafeFile                     (a symlink or special file in the store)
               +-- SeqExhausted                   (an append would pass MAX_SEQ)

A base is never raised itself: each situation has its leaf, which keeps its base's exit
code, HTTP status and ``code`` unless the tree above gives its own.

Every error carries keyword fields (shown by the CLI and the HTTP envelope) and a hint
that tells the user what to do next. Each class knows its CLI exit code and HTTP status.
Upper layers derive their own sub-bases from `LakehouseError`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LakehouseError(Exception):
    """Root of every error raised on purpose by lakehouse-journal."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object: code, message, hint and fields."""
        return {"code": self.code, "message": self.message, "hint": self.hint, **self.fields}


class JournalError(LakehouseError):
    """Base of the errors raised by the journal package."""

    code = "journal_error"


class StoreNotFound(JournalError, FileNotFoundError):
    """The store root holds no journal."""

    exit_code = 5
    http_status = 404
    code = "store_not_found"


class JournalClosed(JournalError, ValueError):
    """The journal was used after it was closed."""


class InvalidRecord(JournalError, ValueError):
    """A record was refused before anything was written: the field at fault is named."""

    exit_code = 3
    http_status = 400
    code = "invalid_record"


class DraftInvalid(InvalidRecord):
    """A draft's kind, entity, id, rev or v is not one the journal takes, or it is no draft."""


class PayloadInvalid(InvalidRecord):
    """A payload is not a JSON object that round-trips exactly; the path at fault is named."""


class RecordTooLarge(InvalidRecord):
    """A record exceeds the hard size limit; large blobs belong in objects/."""

    http_status = 413
    code = "record_too_large"


class LockTimeout(JournalError, TimeoutError):
    """Another writer held the store lock for longer than the lock timeout."""

    exit_code = 6
    http_status = 503
    code = "store_busy"


class WriterStopped(JournalError, OSError):
    """A write or fsync failed, so this writer stopped; nothing after it was acknowledged."""

    code = "writer_stopped"


class JournalDamaged(JournalError):
    """A reader met damage it was asked not to skip: a bad checksum, a gap, a bad line."""

    exit_code = 7
    code = "journal_damaged"


class SegmentDamaged(JournalDamaged):
    """A reader asked to raise met damage in a segment: a bad checksum, a gap, a bad line."""


class SeqExhausted(JournalDamaged):
    """An append would pass the largest seq: a segment name or hint jumped absurdly far."""

    code = "seq_exhausted"
