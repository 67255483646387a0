"""`store.datasets`: ingest, register, drop, list and show datasets.

The object is written to objects/ first, outside the store lock (it is content-addressed,
so a command refused afterwards leaves at most an unreferenced object, never a record
naming a missing file); the name is validated before anything is written. The command
then decides under the lock, for a dataset that exists and is not dropped:

- the same data (its only object is this one; with ``mode="append"``, this object is
  one of its objects already): an idempotent no-op, nothing appended;
- other data of the same schema: ``mode="replace"`` makes this object its only one (a
  new revision), ``mode="append"`` adds it to the objects its view reads; no mode is a
  Conflict (exit 4) whose hint names --mode: nothing is replaced by accident;
- another schema: Conflict naming both fingerprints unless ``replace=True``, which
  replaces the dataset (schema and data); ``mode="append"`` needs the same schema;
- a dataset that does not exist or was dropped takes any data (rev continues).

Every outcome says what happened in ``extra["action"]``: created, replaced, appended or
unchanged.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from journal import Draft, UnsafeFile
from lakehouse._errors import InvalidInput
from lakehouse._heads import Heads
from lakehouse._input import parse
from lakehouse._kernel import Decision, Outcome, check_rev
from lakehouse.catalog._csv import csv_options
from lakehouse.catalog._decide import action, outcome_extra
from lakehouse.catalog._family import CATALOG
from lakehouse.catalog._ingest import Ingested, Progress, ingest, inspect_parquet
from lakehouse.catalog._inputs import MAX_INPUT_BYTES
from lakehouse.catalog._manifest import refresh_manifest
from lakehouse.catalog._models import (
    APPENDED,
    DROPPED,
    ENTITY,
    INGESTED,
    REGISTERED,
    DatasetHead,
    Options,
    ReadOptions,
    content_payload,
)
from lakehouse.catalog._names import check_identifier, validate_dataset_name
from lakehouse.catalog._read import dataset_head, not_found

if TYPE_CHECKING:
    import pyarrow as pa

    from lakehouse._kernel import Host


class Datasets:
    """The catalog family of one store."""

    def __init__(self, store: Host) -> None:
        self._store = store

    # -- mutations -----------------------------------------------------------------------

    def ingest(
        self,
        name: str,
        file: str | os.PathLike[str] | IO[bytes],
        *,
        mode: str | None = None,
        replace: bool = False,
        delimiter: str | None = None,
        null_values: builtins.list[str] | None = None,
        columns: Mapping[str, str] | None = None,
        max_bytes: int = MAX_INPUT_BYTES,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> Outcome:
        """Ingest a CSV or Parquet file (a path, or a binary stream) as dataset `name`.

        `mode` is "replace" or "append" (needed when the dataset holds other data);
        `delimiter`, `null_values` (replacing the default, the empty field) and `columns`
        (name -> DuckDB type) say how to read a CSV; at most `max_bytes` are read.
        """
        options = _options(name, "dataset ingest", mode, replace, if_rev, idempotency_key)
        given = {"delimiter": delimiter, "null_values": null_values, "columns": columns}
        reading = parse(ReadOptions, {**given, "max_bytes": max_bytes}, what="dataset ingest")
        csv = csv_options(reading.delimiter, reading.null_values, reading.columns)
        done = ingest(
            self._store.root,
            name,
            _file(file),
            options=csv,
            max_bytes=reading.max_bytes,
            progress=progress,
        )
        request = {key: value for key, value in given.items() if value is not None}
        return self._put(INGESTED.name, name, done, options=options, request=request)

    def register(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        mode: str | None = None,
        replace: bool = False,
        max_bytes: int = MAX_INPUT_BYTES,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> Outcome:
        """Register a Parquet file as dataset `name`: it is copied into objects/."""
        options = _options(name, "dataset register", mode, replace, if_rev, idempotency_key)
        reading = parse(ReadOptions, {"max_bytes": max_bytes}, what="dataset register")
        source = _path(path, "path", "dataset register")
        inspect_parquet(source, max_bytes=reading.max_bytes)  # refuses all but Parquet
        done = ingest(
            self._store.root,
            name,
            source,
            max_bytes=reading.max_bytes,
            progress=progress,
            parquet_only=True,
        )
        return self._put(REGISTERED.name, name, done, options=options, request={})

    def drop(
        self, name: str, *, if_rev: int | None = None, idempotency_key: str | None = None
    ) -> Outcome:
        """Drop a dataset: it leaves lists and SQL; its objects and history stay."""
        _options(name, "dataset drop", None, False, if_rev, idempotency_key)

        def decide(heads: Heads) -> Decision:
            head = heads.get(CATALOG, name)
            if head is None:
                raise not_found(name)
            check_rev(ENTITY, name, head["rev"], if_rev, reread="show")
            extra = {"dataset_id": head["dataset_id"]}
            if head["dropped"]:
                return Decision([], ENTITY, name, head["rev"], noop=True, extra=extra)
            rev = head["rev"] + 1
            draft = Draft(DROPPED.name, ENTITY, name, {"dataset_id": head["dataset_id"]}, rev)
            return Decision([draft], ENTITY, name, rev, extra=extra)

        request = {"verb": "dataset.drop", "name": name}
        outcome = self._store.execute(decide, idempotency_key=idempotency_key, request=request)
        return self._refreshed(outcome)

    # -- reads ---------------------------------------------------------------------------

    def list(self) -> builtins.list[DatasetHead]:
        """The datasets not dropped, by name."""
        heads = self._store.heads().all(CATALOG)
        return sorted((head for _, head in heads if not head["dropped"]), key=_by_name)

    def show(self, name: str) -> DatasetHead:
        """The head of one dataset (a dropped one too, with dropped=True); NotFound if none."""
        return dataset_head(self._store, name)

    def read(self, name: str) -> pa.Table:
        """Dataset `name`'s rows as a pyarrow Table (NotFound if there is none, or dropped)."""
        from lakehouse.catalog._read import read

        return read(self._store, name)

    # -- the shared command --------------------------------------------------------------

    def _put(
        self,
        kind: str,
        name: str,
        done: Ingested,
        *,
        options: Options,
        request: dict[str, Any],
    ) -> Outcome:
        info = done.object
        payload = content_payload(name, info, done.source)

        def decide(heads: Heads) -> Decision:
            head = heads.get(CATALOG, name)
            rev = head["rev"] if head else 0
            check_rev(ENTITY, name, rev, options.if_rev, reread="show")
            verdict = action(head, info, options)
            extra = outcome_extra(payload, info, head, verdict)
            if verdict == "unchanged":
                return Decision([], ENTITY, name, rev, noop=True, extra=extra)
            record_kind = APPENDED.name if verdict == "appended" else kind
            draft = Draft(record_kind, ENTITY, name, payload, rev + 1)
            return Decision([draft], ENTITY, name, rev + 1, extra=extra)

        request = {
            "verb": kind,
            "name": name,
            "sha256": info.sha256,
            "fingerprint": info.fingerprint,
            "replace": options.replace,
            "mode": options.mode,
            **request,
        }
        outcome = self._store.execute(
            decide, idempotency_key=options.idempotency_key, request=request
        )
        return self._refreshed(outcome)

    def _refreshed(self, outcome: Outcome) -> Outcome:
        """Rewrite catalog.json after a change (best effort: the change is durable already)."""
        if outcome.appended:
            try:
                refresh_manifest(self._store)
            except (OSError, UnsafeFile) as error:  # a symlink in its place is never followed
                import warnings

                warnings.warn(f"catalog.json was not refreshed: {error}", stacklevel=3)
        return outcome


def _options(name: str, what: str, *given: Any) -> Options:
    """Check the name (before anything is written) and the options."""
    data = dict(zip(("mode", "replace", "if_rev", "idempotency_key"), given, strict=True))
    options = parse(Options, data, what=what)
    if options.replace and options.mode == "append":
        raise InvalidInput(
            f"{what}: replace and mode 'append' contradict each other",
            hint="--replace replaces the dataset (with another schema too); "
            "--mode append adds rows of the same schema: pass one of them",
            field="mode",
        )
    if what == "dataset drop":
        check_identifier(name)  # a name taken since it was made may still be dropped
    else:
        validate_dataset_name(name)
    return options


def _file(value: Any) -> Path | IO[bytes]:
    """The file to ingest as a Path, or the binary stream given; else InvalidInput."""
    if isinstance(value, str | os.PathLike):
        return _path(value, "file", "dataset ingest")
    if callable(getattr(value, "read", None)) and not isinstance(value, io.TextIOBase):
        return value  # type: ignore[no-any-return]
    raise InvalidInput(
        f"dataset ingest: file: {value!r} is neither a path nor a binary stream",
        hint="pass the file as a str or a pathlib.Path, or a stream opened in binary mode",
        field="file",
    )


def _path(value: object, field: str, what: str) -> Path:
    """The file the caller named, as a Path; InvalidInput if it names no file at all."""
    if isinstance(value, str | os.PathLike):
        try:
            return Path(value)
        except TypeError:  # a PathLike that gives bytes
            pass
    raise InvalidInput(
        f"{what}: {field}: {value!r} is not a path",
        hint="pass the file as a str or a pathlib.Path",
        field=field,
    )


def _by_name(head: DatasetHead) -> str:
    return str(head["name"])
