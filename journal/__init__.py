"""The storage engine: locked, checksummed, crash-safe JSONL segments.

`Journal.open(root)` gives appends (`append`, `append_many`) that are durable when they
return, lock-free reads from any seq (`read`), and a full check (`scan`). The journal
knows nothing of families or projections; every layer above builds on this API alone.
"""

from journal._errors import (
    InvalidRecord,
    JournalDamaged,
    JournalError,
    LakehouseError,
    LockTimeout,
    RecordTooLarge,
    StoreNotFound,
    WriterStopped,
)
from journal._journal import DEFAULT_SEGMENT_BYTES, Journal, ScanReport
from journal._reader import Finding, Reading
from journal._record import MAX_BYTES, WARN_BYTES, Draft, Record, RecordSizeWarning
from journal._segments import Segment
from journal._writer import Durability, Transaction

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "MAX_BYTES",
    "WARN_BYTES",
    "Draft",
    "Durability",
    "Finding",
    "InvalidRecord",
    "Journal",
    "JournalDamaged",
    "JournalError",
    "LakehouseError",
    "LockTimeout",
    "Reading",
    "Record",
    "RecordSizeWarning",
    "RecordTooLarge",
    "ScanReport",
    "Segment",
    "StoreNotFound",
    "Transaction",
    "WriterStopped",
]
