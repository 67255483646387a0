"""The storage engine: locked, checksummed, crash-safe JSONL segments.

`Journal.open(root)` gives appends (`append`, `append_many`) that are durable when they
return, lock-free reads from any seq (`read`), and a full check (`scan`). The journal
knows nothing of families or projections; every layer above builds on this API alone.
"""

from journal._errors import (
    DraftInvalid,
    InvalidRecord,
    JournalClosed,
    JournalDamaged,
    JournalError,
    LakehouseError,
    LockTimeout,
    PayloadInvalid,
    RecordTooLarge,
    SegmentDamaged,
    SeqExhausted,
    StoreNotFound,
    WriterStopped,
)
from journal._files import file_sha256, fsync_dir, is_temp_name, replace_durably, write_all
from journal._finding import JOURNAL_KEYS, Finding, Severity
from journal._journal import DEFAULT_SEGMENT_BYTES, Journal, ScanReport
from journal._meta import META, MetaCheck
from journal._reader import Reading
from journal._record import MAX_BYTES, MAX_SEQ, WARN_BYTES, Draft, Record, RecordSizeWarning
from journal._safe import (
    UnsafeFile,
    check_dir,
    describe,
    open_at,
    open_dir,
    open_file,
    relpath_of,
    remove_tree,
    unsafe_entries,
)
from journal._segments import Segment, is_segment_name
from journal._writer import MAX_SKIP, Durability, Transaction

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "JOURNAL_KEYS",
    "MAX_BYTES",
    "MAX_SEQ",
    "MAX_SKIP",
    "META",
    "WARN_BYTES",
    "Draft",
    "DraftInvalid",
    "Durability",
    "Finding",
    "InvalidRecord",
    "Journal",
    "JournalClosed",
    "JournalDamaged",
    "JournalError",
    "LakehouseError",
    "LockTimeout",
    "MetaCheck",
    "PayloadInvalid",
    "Reading",
    "Record",
    "RecordSizeWarning",
    "RecordTooLarge",
    "ScanReport",
    "Segment",
    "SegmentDamaged",
    "SeqExhausted",
    "Severity",
    "StoreNotFound",
    "Transaction",
    "UnsafeFile",
    "WriterStopped",
    "check_dir",
    "describe",
    "file_sha256",
    "fsync_dir",
    "is_segment_name",
    "is_temp_name",
    "open_at",
    "open_dir",
    "open_file",
    "relpath_of",
    "remove_tree",
    "replace_durably",
    "unsafe_entries",
    "write_all",
]
