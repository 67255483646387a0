"""The record envelope: validation, encoding with a CRC, and decoding.

A record is one line of JSON written by orjson. Its fields come in a fixed order and the
checksum is always the last field, so a record's bytes are::

    {"seq":42,"ts":"...","writer":"...","kind":"...","entity":"...","id":"...","rev":3,"v":1,
     ["batch_end":44,]"payload":{...},"crc":"1a2b3c4d"}

The CRC-32 covers exactly the bytes the record would have without its crc field (the line
minus its fixed 18-byte suffix, plus the closing brace). Checking it costs one crc32 over
bytes already in memory and no re-serialisation.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import time
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from journal._errors import InvalidRecord, RecordTooLarge

WARN_BYTES = 64 * 1024
MAX_BYTES = 256 * 1024

_CRC_SUFFIX_LEN = 18  # len(b',"crc":"1a2b3c4d"}')
_CRC_TAG = b',"crc":"'
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_ENTITY = re.compile(r"[a-z][a-z0-9_]*")
_CLAIMED_SEQ = re.compile(rb'\{"seq":(\d{1,19})[,}]')


class Record(NamedTuple):
    """One journal record as read back or acknowledged."""

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
    batch_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON object stored in the journal (batch_end only if set)."""
        out = self._asdict()
        if self.batch_end is None:
            del out["batch_end"]
        return out


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
    global _writer_pid, _writer_id  # noqa: PLW0603 - one identity per process, renewed after fork
    pid = os.getpid()
    if pid != _writer_pid:
        _writer_pid, _writer_id = pid, f"{pid}-{secrets.token_hex(4)}"
    return _writer_id


def utc_timestamp() -> str:
    """The current UTC time as an ISO-8601 string with microseconds."""
    ns = time.time_ns()
    secs, micros = divmod(ns // 1000, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{micros:06d}Z"


def check_draft(draft: Draft, *, internal: bool = False) -> bytes:
    """Validate a draft and return its payload as JSON bytes; raise InvalidRecord if bad."""
    kind, entity, id_, payload, rev, v = draft
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InvalidRecord(
            f"kind {kind!r} is not a dotted lower-case name",
            hint="use a kind like 'trace.added': family, dot, event",
            field="kind",
        )
    if kind.startswith("journal.") and not internal:
        raise InvalidRecord(
            f"kind {kind!r} is reserved for the journal's own notes",
            hint="choose a kind outside the 'journal.' namespace",
            field="kind",
        )
    if not isinstance(entity, str) or not _ENTITY.fullmatch(entity):
        raise InvalidRecord(
            f"entity {entity!r} is not a lower-case name",
            hint="use an entity name like 'trace' or 'dataset'",
            field="entity",
        )
    if not isinstance(id_, str) or not id_ or len(id_) > 256:
        raise InvalidRecord(
            f"id {id_!r} must be a non-empty string of at most 256 characters",
            hint="pass the entity's id as a string",
            field="id",
        )
    for name, value in (("rev", rev), ("v", v)):
        if type(value) is not int or value < 0:
            raise InvalidRecord(
                f"{name} {value!r} must be a non-negative integer",
                hint=f"pass {name} as an int >= 0",
                field=name,
            )
    if not isinstance(payload, dict):
        raise InvalidRecord(
            f"payload must be a JSON object, got {type(payload).__name__}",
            hint="wrap the value in a dict",
            field="payload",
        )
    _check_json(payload, "payload")
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError as exc:
        raise InvalidRecord(
            f"payload cannot be stored as JSON: {exc}",
            hint="strings must be valid Unicode (no lone surrogates); ints fit in 64 bits",
            field="payload",
        ) from exc


_SCALARS = (str, int, bool, type(None))


def _check_json(value: Any, path: str) -> None:
    """Refuse anything that would not round-trip exactly through JSON."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is float:
        if not math.isfinite(value):
            raise InvalidRecord(
                f"{path} is {value!r}; JSON has no NaN or Infinity",
                hint="store a finite number, or null for a missing value",
                field=path,
            )
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise InvalidRecord(
                    f"{path} has a non-string key {key!r}",
                    hint="JSON object keys are strings",
                    field=path,
                )
            _check_json(item, f"{path}.{key}")
        return
    if kind is list:
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    raise InvalidRecord(
        f"{path} is a {kind.__name__}, which JSON cannot store exactly",
        hint="use only dict, list, str, int, finite float, bool and None",
        field=path,
    )


def encode(
    draft: Draft, payload_json: bytes, *, seq: int, ts: str, batch_end: int | None
) -> tuple[bytes, Record]:
    """Encode a validated draft as its line (without framing) and the Record it stands for."""
    head: dict[str, Any] = {
        "seq": seq,
        "ts": ts,
        "writer": writer_id(),
        "kind": draft.kind,
        "entity": draft.entity,
        "id": draft.id,
        "rev": draft.rev,
        "v": draft.v,
    }
    if batch_end is not None:
        head["batch_end"] = batch_end
    body = orjson.dumps(head)[:-1] + b',"payload":' + payload_json + b"}"
    crc = b"%08x" % zlib.crc32(body)
    line = body[:-1] + _CRC_TAG + crc + b'"}'
    if len(line) > MAX_BYTES:
        raise RecordTooLarge(
            f"record of kind {draft.kind!r} for {draft.entity} {draft.id!r} is "
            f"{len(line)} bytes; the limit is {MAX_BYTES} bytes (256 KiB)",
            hint="store large content under objects/ and reference it by hash",
            field="payload",
            size=len(line),
            limit=MAX_BYTES,
        )
    record = Record(
        seq,
        ts,
        head["writer"],
        draft.kind,
        draft.entity,
        draft.id,
        draft.rev,
        draft.v,
        orjson.loads(payload_json),
        crc.decode(),
        batch_end,
    )
    return line, record


def decode(line: bytes) -> Record | None:
    """Decode one line into a Record, or None if it is malformed or fails its CRC."""
    if len(line) < 40 or line[-_CRC_SUFFIX_LEN:-10] != _CRC_TAG or line[-2:] != b'"}':
        return None
    body = memoryview(line)[:-_CRC_SUFFIX_LEN]
    if b"%08x" % zlib.crc32(b"}", zlib.crc32(body)) != line[-10:-2]:
        return None
    try:
        fields = orjson.loads(line)
        record = Record(**fields)
    except (orjson.JSONDecodeError, TypeError):
        return None
    if type(record.seq) is not int or not isinstance(record.payload, dict):
        return None
    return record


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
        raise InvalidRecord(
            f"cannot make a record from {item!r}: {exc}",
            hint="pass kind, entity, id, payload and optionally rev and v",
            field="record",
        ) from exc
