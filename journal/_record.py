"""The record envelope: validation, encoding with a CRC, and decoding.

A record is one line of JSON written by orjson. Its fields come in a fixed order and the
checksum is always the last field, so a record's bytes are::

    {"seq":42,"ts":"...","writer":"...","kind":"...","entity":"...","id":"...","rev":3,"v":1,
     "payload":{...}[,"batch":[42,44]],"crc":"1a2b3c4d"}

A record written by `append_many` carries ``batch``: the first and last seq of its batch.

The CRC-32 covers every byte of the record before its crc field (the line minus its fixed
18-byte suffix ``,"crc":"xxxxxxxx"}``). Checking it costs one crc32 over bytes already in
memory and no re-serialisation; the hex digits are compared as bytes, so a flipped digit
that a lenient int() parse would forgive is still caught.
"""

from __future__ import annotations

import os
import re
import secrets
import time
import warnings
import zlib
from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from journal._errors import DraftInvalid, RecordTooLarge

WARN_BYTES = 64 * 1024
MAX_BYTES = 256 * 1024
# the largest seq: every JSON reader holds it exactly (JavaScript's are doubles), and
# it is 285 years of a million records a second; a record claiming more is damage
MAX_SEQ = 2**53 - 1

_CRC_SUFFIX_LEN = 18  # len(b',"crc":"1a2b3c4d"}')
_CRC_TAG = b',"crc":"'
_MIDDLE = b'","writer":"%s","kind":"%s","entity":"%s","id":'
_BODY = b'{"seq":%d,"ts":"%s%s%s,"rev":%d,"v":%d,"payload":%s%s'  # all but the crc
_crc32 = zlib.crc32
_loads = orjson.loads
_dumps = orjson.dumps
_new_record = tuple.__new__
_CLAIMED_SEQ = re.compile(rb'\{"seq":(\d{1,19})[,}]')


_FIELDS = ("seq", "ts", "writer", "kind", "entity", "id", "rev", "v", "payload")


class Record(tuple):  # type: ignore[type-arg]
    """One journal record as read back or acknowledged: an immutable tuple with named fields.

    Its items are the JSON object's values in file order: seq, ts, writer, kind, entity,
    id, rev, v, payload, then [first, last] for a batch record, and the crc last. Reading
    builds it straight from the parsed object's values, with no reordering (the read path
    is hot); `batch_start`/`batch_end` are None for a record written on its own.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        seq: int
        ts: str
        writer: str
        kind: str
        entity: str
        id: str
        rev: int
        v: int
        payload: dict[str, Any]
        crc: str
    else:
        seq, ts, writer, kind, entity, id, rev, v, payload = (
            property(itemgetter(index), doc=f"The record's {name}.")
            for index, name in enumerate(_FIELDS)
        )
        crc = property(itemgetter(-1), doc="The CRC-32 of the record's bytes, as 8 hex digits.")

    @property
    def batch_start(self) -> int | None:
        """The first seq of the batch this record was written in, or None."""
        return self[9][0] if len(self) == 11 else None

    @property
    def batch_end(self) -> int | None:
        """The last seq of the batch this record was written in, or None."""
        return self[9][1] if len(self) == 11 else None

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON object stored in the journal."""
        out = dict(zip(_FIELDS, self, strict=False))
        if len(self) == 11:
            out["batch"] = self[9]
        out["crc"] = self[-1]
        return out

    def __repr__(self) -> str:
        return "Record(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"


class Draft(NamedTuple):
    """A record not yet written: what a caller passes to `Journal.append_many`."""

    kind: str
    entity: str
    id: str
    payload: dict[str, Any]
    rev: int = 0
    v: int = 1


class RecordSizeWarning(UserWarning):
    """A record is larger than the soft limit (64 KiB): blobs belong in objects/."""


_writer_pid = -1
_writer_id = ""


def writer_id() -> str:
    """This process's writer name: pid plus a random nonce chosen at process start."""
    global _writer_pid, _writer_id  # one identity per process, renewed after fork
    pid = os.getpid()
    if pid != _writer_pid:
        _writer_pid, _writer_id = pid, f"{pid}-{secrets.token_hex(4)}"
    return _writer_id


_second = (-1, "")  # the last whole second formatted, and its text


def utc_timestamp() -> str:
    """The current UTC time as an ISO-8601 string with microseconds."""
    global _second  # noqa: PLW0603 - a one-entry cache; a tuple swap is atomic
    secs, micros = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second
    if cached[0] != secs:
        cached = _second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{cached[1]}.{micros:06d}Z"


def encode(
    drafts: list[Draft], payloads: list[bytes], *, first_seq: int, ts: str
) -> tuple[bytes, list[Record]]:
    """Encode validated drafts as one framed write and the records they stand for.

    More than one draft makes a batch: every record carries [first, last] seq.
    """
    writer = writer_id()
    stamp = ts.encode()
    last_seq = first_seq + len(drafts) - 1
    batch = b',"batch":[%d,%d]' % (first_seq, last_seq) if len(drafts) > 1 else b""
    middles: dict[tuple[str, str], bytes] = {}
    lines: list[bytes] = []
    records: list[Record] = []
    seq = first_seq
    for draft, payload_json in zip(drafts, payloads, strict=True):
        kind, entity, id_, payload, rev, v = draft
        # kind and entity passed their patterns and ts/writer are plain ASCII: only the
        # id needs JSON escaping, so the line is formatted directly (the append hot path)
        middle = middles.get((kind, entity))
        if middle is None:
            middle = middles[kind, entity] = _MIDDLE % (
                writer.encode(),
                kind.encode(),
                entity.encode(),
            )
        body = _BODY % (seq, stamp, middle, _dumps(id_), rev, v, payload_json, batch)
        crc = f"{_crc32(body):08x}"
        line = b'%s,"crc":"%s"}' % (body, crc.encode())
        if len(line) > WARN_BYTES:
            _check_size(line, draft, seq)
        values = (seq, ts, writer, kind, entity, id_, rev, v, payload)
        if batch:
            records.append(_new_record(Record, (*values, [first_seq, last_seq], crc)))
        else:
            records.append(_new_record(Record, (*values, crc)))
        lines.append(line)
        seq += 1
    # "\n" + record + "\n" for every record, in one write: a torn write damages only the
    # tail, and the next append never glues onto a fragment (tests/journal/test_truncate.py)
    return b"\n" + b"\n\n".join(lines) + b"\n", records


def _check_size(line: bytes, draft: Draft, seq: int) -> None:
    """Refuse a record above the hard limit; warn above the soft one."""
    if len(line) > MAX_BYTES:
        raise RecordTooLarge(
            f"record of kind {draft.kind!r} for {draft.entity} {draft.id!r} is {len(line)} "
            f"bytes; the limit is {MAX_BYTES} bytes (256 KiB)",
            hint="store large content under objects/ and reference it by hash",
            field="payload",
            size=len(line),
            limit=MAX_BYTES,
        )
    warnings.warn(
        RecordSizeWarning(f"record seq {seq} is {len(line)} bytes, above the 64 KiB soft limit"),
        stacklevel=6,
    )


def decode(line: bytes) -> Record | None:
    """Decode one line into a Record, or None if it is malformed or fails its CRC."""
    # the hot path of every read: a few slices, one crc32 pass, one orjson call
    if (
        line[-_CRC_SUFFIX_LEN:-10] != _CRC_TAG
        or b"%08x" % _crc32(line[:-_CRC_SUFFIX_LEN]) != line[-10:-2]
    ):
        return None
    try:
        fields = _loads(line)
    except orjson.JSONDecodeError:
        return None
    # the CRC proves these bytes are what a writer wrote, and the writer always writes
    # the fields in the same order, so the values become the record as they are
    if type(fields) is not dict:
        return None
    record: Record = _new_record(Record, fields.values())
    size = len(record)
    if not 10 <= size <= 11:
        return None
    seq = record[0]
    if type(seq) is not int or not 0 < seq <= MAX_SEQ or type(record[8]) is not dict:
        return None
    return record if size == 10 or _batch_ok(seq, record[9]) else None


def _batch_ok(seq: Any, batch: Any) -> bool:
    """A batch field is [first, last] with first < last and the record's seq inside."""
    return (
        type(batch) is list
        and len(batch) == 2
        and type(batch[0]) is int
        and type(batch[1]) is int
        and batch[0] <= seq <= batch[1]
        and batch[0] < batch[1]
    )


def claimed_seq(line: bytes) -> int | None:
    """The seq a damaged line claims to hold, if its start is still readable."""
    found = _CLAIMED_SEQ.match(line)
    return int(found.group(1)) if found else None


def as_draft(item: Draft | Mapping[str, Any]) -> Draft:
    """Accept a Draft or a mapping with the same keys."""
    if isinstance(item, Draft):
        return item
    try:
        return Draft(**item)
    except TypeError as exc:
        raise DraftInvalid(
            f"cannot make a record from {item!r}: {exc}",
            hint="pass kind, entity, id, payload and optionally rev and v",
            field="record",
        ) from exc
