"""``manifest.json``: what a checkpoint holds, written last, checked on every read.

::

    {"format": 1, "seq": 42, "created_at": "2026-11-24T12:00:00.123456Z",
     "files": {"tables/traces.parquet": {"sha256": "<64 hex>", "bytes": 1234}, ...},
     "meta": {...}}

`meta` is the caller's (row counts, sealed segment sha256s, ...): any JSON object with
string keys and finite numbers. A manifest that does not parse, has a format this code
does not read (see FORMAT), or names another seq than its directory makes the
checkpoint not exist.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from checkpoints._errors import CheckpointRefused
from checkpoints._files import check_relpath

# 2: a checkpoint may share files with others (hard links), and the read models keep their
# tables and heads in layers over the files of the one before (lakehouse/_layering.py):
# code that reads format 1 alone would read the first layer only and answer wrong, so it
# must not take these for its own; format 1 checkpoints are still read
FORMAT = 2
READS = frozenset({1, 2})
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_meta(meta: object) -> dict[str, Any]:
    """`meta` if it can be stored exactly as JSON; else CheckpointRefused naming the field."""
    if type(meta) is not dict:
        raise CheckpointRefused(
            f"checkpoint meta must be a dict, got {type(meta).__name__}",
            hint="pass meta as a JSON object, e.g. {'rows': {'traces': 10}}",
            field="meta",
        )
    _check_json(meta, "meta")
    try:
        orjson.dumps(meta)
    except orjson.JSONEncodeError as exc:  # what the walk does not know, in orjson's words
        raise CheckpointRefused(
            f"checkpoint meta cannot be stored as JSON: {exc}",
            hint="strings must be valid Unicode (no lone surrogates)",
            field="meta",
        ) from exc
    return meta


def _check_json(value: object, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                _refuse(where, f"has a non-string key {key!r}")
            _check_json(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        _refuse(where, f"is {value!r}, which JSON cannot hold")
    elif isinstance(value, int) and not -(2**63) <= value < 2**64:
        _refuse(where, "is an int beyond 64 bits")
    elif value is not None and not isinstance(value, str | int | float):
        _refuse(where, f"is a {type(value).__name__}, which JSON cannot hold")


def _refuse(where: str, why: str) -> None:
    raise CheckpointRefused(
        f"checkpoint {where} {why}",
        hint="meta holds only dicts with string keys, lists, str, int, finite float, bool, None",
        field=where,
    )


def dump_manifest(seq: int, files: dict[str, tuple[str, int]], meta: dict[str, Any]) -> bytes:
    """The manifest's bytes: files sorted by path, a UTC creation time, the checked meta."""
    manifest = {
        "format": FORMAT,
        "seq": seq,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "files": {
            relpath: {"sha256": sha256, "bytes": size}
            for relpath, (sha256, size) in sorted(files.items())
        },
        "meta": meta,
    }
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"


def parse_manifest(data: bytes, seq: int) -> dict[str, Any]:
    """The manifest in `data`, checked field by field; ValueError saying what is wrong."""
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc})") from exc
    if type(manifest) is not dict:
        raise ValueError("is not a JSON object")
    if manifest.get("format") not in READS or type(manifest.get("format")) is not int:
        raise ValueError(f"has format {manifest.get('format')!r}; this code reads 1 and 2")
    if manifest.get("seq") != seq or type(manifest.get("seq")) is not int:
        raise ValueError(f"says seq {manifest.get('seq')!r}, its directory says {seq}")
    if type(manifest.get("created_at")) is not str:
        raise ValueError("has no created_at string")
    if type(manifest.get("meta")) is not dict:
        raise ValueError("has no meta object")
    files = manifest.get("files")
    if type(files) is not dict:
        raise ValueError("has no files object")
    for relpath, entry in files.items():
        try:
            check_relpath(relpath)
        except CheckpointRefused as exc:
            raise ValueError(f"lists a bad path: {exc.message}") from exc
        if (
            type(entry) is not dict
            or type(entry.get("sha256")) is not str
            or not _SHA256.fullmatch(entry["sha256"])
            or type(entry.get("bytes")) is not int
            or entry["bytes"] < 0
        ):
            raise ValueError(f"lists {relpath!r} without a sha256 and a byte count")
    return manifest
