"""What a dataset is: its id, its record kinds and the payload a catalog record carries."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from lakehouse._family import Kind
from lakehouse._input import Mutation
from lakehouse.catalog._objects import ObjectInfo

ENTITY = "dataset"
# fixed forever: every dataset_id is uuid5 of this namespace and the dataset's name
NAMESPACE = uuid.UUID("6f1c3b2e-8d4a-5e7f-9a0b-1c2d3e4f5a6b")

INGESTED = Kind("dataset.ingested")
REGISTERED = Kind("dataset.registered")
DROPPED = Kind("dataset.dropped")
KINDS = {kind.name: kind for kind in (INGESTED, REGISTERED, DROPPED)}


def dataset_id(name: str) -> str:
    """The stable id of the dataset called `name`: uuid5(NAMESPACE, name)."""
    return str(uuid.uuid5(NAMESPACE, name))


class Options(Mutation):
    """The options every catalog mutation takes: --replace, --if-rev, --idempotency-key."""

    replace: bool = False


def content_payload(
    name: str, info: ObjectInfo, source: Path, source_format: str
) -> dict[str, Any]:
    """The payload of an ingested or registered record: the dataset's new (only) object."""
    return {
        "dataset_id": dataset_id(name),
        "fingerprint": info.fingerprint,
        "schema": info.schema,
        "files": [
            {"path": info.path, "sha256": info.sha256, "bytes": info.bytes, "rows": info.rows}
        ],
        "rows": info.rows,
        "source": {"format": source_format, "file": source.name, "bytes": _size(source)},
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # moved away after it was read: the object is what counts
        return 0
