"""What a dataset is: its id, its record kinds, its head and the payload a record carries."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BeforeValidator, Field, StrictStr, field_validator

from lakehouse._family import Kind
from lakehouse._input import BIGINT_MAX, Input, Mutation, Names
from lakehouse.catalog._inputs import MAX_INPUT_BYTES
from lakehouse.catalog._objects import ObjectInfo

ENTITY = "dataset"
# fixed forever: every dataset_id is uuid5 of this namespace and the dataset's name
NAMESPACE = uuid.UUID("6f1c3b2e-8d4a-5e7f-9a0b-1c2d3e4f5a6b")

INGESTED = Kind("dataset.ingested")  # the dataset's files are this one object
REGISTERED = Kind("dataset.registered")  # the same, from a Parquet file
APPENDED = Kind("dataset.appended")  # one more object, of the same schema, to read too
DROPPED = Kind("dataset.dropped")
KINDS = {kind.name: kind for kind in (INGESTED, REGISTERED, APPENDED, DROPPED)}
MODES = ("replace", "append")
_TAB = {"\\t": "\t", "tab": "\t"}


def dataset_id(name: str) -> str:
    """The stable id of the dataset called `name`: uuid5(NAMESPACE, name)."""
    return str(uuid.uuid5(NAMESPACE, name))


class Options(Mutation):
    """What every catalog mutation takes: --mode, --replace, --if-rev, --idempotency-key."""

    # None: a dataset that holds other data is refused (Conflict), naming --mode
    mode: Literal["replace", "append"] | None = None
    replace: bool = False  # another schema may replace the dataset (implies mode replace)


def _delimiter(value: Any) -> Any:
    """'\\t' (a backslash and a t, as a shell passes it) and 'tab' mean a tab."""
    return _TAB.get(value, value) if isinstance(value, str) else value


class ReadOptions(Input):
    """How `dataset ingest` reads its input: --delimiter, --null-value, --column, --max-bytes."""

    delimiter: (
        Annotated[str, BeforeValidator(_delimiter), Field(min_length=1, max_length=1)] | None
    ) = None
    null_values: Annotated[Names, Field(min_length=1, max_length=64)] | None = None
    columns: dict[StrictStr, StrictStr] | None = None
    max_bytes: Annotated[int, Field(ge=1, le=BIGINT_MAX)] = MAX_INPUT_BYTES

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and value in '"\r\n\0':
            raise ValueError("a quote, a line break or NUL cannot separate fields")
        return value

    @field_validator("null_values")
    @classmethod
    def _short(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(len(text) > 256 or "\n" in text for text in value):
            raise ValueError("a NULL spelling is at most 256 characters, on one line")
        return value


def content_payload(name: str, info: ObjectInfo, source: dict[str, Any]) -> dict[str, Any]:
    """The payload of an ingested, registered or appended record: its new object."""
    return {
        "dataset_id": dataset_id(name),
        "fingerprint": info.fingerprint,
        "schema": info.schema,
        "files": [
            {"path": info.path, "sha256": info.sha256, "bytes": info.bytes, "rows": info.rows}
        ],
        "rows": info.rows,
        "source": source,
    }


class DatasetFile(TypedDict):
    """One object a dataset reads: its path under the store root, sha256, bytes and rows."""

    path: str
    sha256: str
    bytes: int
    rows: int


class DatasetHead(TypedDict):
    """A dataset after its latest record: what `dataset show` shows and catalog.json lists."""

    name: str
    dataset_id: str
    fingerprint: str  # of its schema
    schema: list[dict[str, str]]
    files: list[DatasetFile]  # every object it reads, the first ingested first
    rows: int
    source: dict[str, Any]
    dropped: bool
    ingested_at: str
    created_seq: int
    rev: int
    seq: int
