"""`store.datasets`: ingest, register, drop, list and show datasets.

The object is written to objects/ first, outside the store lock (it is content-addressed,
so a command refused afterwards leaves at most an unreferenced object, never a record
naming a missing file); the name is validated before anything is written. The command
then decides under the lock:

- same fingerprint and same object (sha256): an idempotent no-op, nothing appended;
- same fingerprint, other data: a new revision whose files are the new object (the
  schema contract holds, so a refresh needs no ``--replace``);
- another fingerprint: Conflict naming both fingerprints, unless ``replace=True``;
- a dropped dataset takes any new data as its next revision (rev continues).
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journal import Draft, UnsafeFile
from lakehouse._errors import Conflict, InvalidInput, NotFound
from lakehouse._heads import Heads
from lakehouse._input import parse
from lakehouse._store import Decision, Outcome, check_rev
from lakehouse.catalog._ingest import Progress, ingest_file, inspect_parquet
from lakehouse.catalog._manifest import refresh_manifest
from lakehouse.catalog._models import (
    DROPPED,
    ENTITY,
    INGESTED,
    REGISTERED,
    Options,
    content_payload,
    dataset_id,
)
from lakehouse.catalog._names import validate_dataset_name
from lakehouse.catalog._objects import ObjectInfo
from lakehouse.catalog._sources import detect_format

if TYPE_CHECKING:
    import pyarrow as pa

    from lakehouse._store import Store

Head = dict[str, Any]


class Datasets:
    """The catalog family of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- mutations -----------------------------------------------------------------------

    def ingest(
        self,
        name: str,
        file: str | Path,
        *,
        replace: bool = False,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> Outcome:
        """Ingest a CSV or Parquet file as dataset `name` (a new rev if its data changed)."""
        options = _options(name, replace, if_rev, idempotency_key, "dataset ingest")
        path = _path(file, "file", "dataset ingest")
        source_format = detect_format(path)  # refuses a missing or unreadable file early
        info = ingest_file(self._store.root, name, path, progress=progress)
        payload = content_payload(name, info, path, source_format)
        return self._put(
            INGESTED.name,
            name,
            info,
            payload=payload,
            options=options,
            idempotency_key=idempotency_key,
        )

    def register(
        self,
        name: str,
        path: str | Path,
        *,
        replace: bool = False,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> Outcome:
        """Register a Parquet file as dataset `name`: it is copied into objects/."""
        options = _options(name, replace, if_rev, idempotency_key, "dataset register")
        source = _path(path, "path", "dataset register")
        inspect_parquet(source)  # refuses anything but a readable Parquet file
        info = ingest_file(self._store.root, name, source, progress=progress)
        payload = content_payload(name, info, source, "parquet")
        return self._put(
            REGISTERED.name,
            name,
            info,
            payload=payload,
            options=options,
            idempotency_key=idempotency_key,
        )

    def drop(
        self, name: str, *, if_rev: int | None = None, idempotency_key: str | None = None
    ) -> Outcome:
        """Drop a dataset: it leaves lists and SQL; its objects and history stay."""
        _options(name, False, if_rev, idempotency_key, "dataset drop")

        def decide(heads: Heads) -> Decision:
            head = heads.get(ENTITY, name)
            if head is None:
                raise _not_found(name)
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

    def list(self) -> builtins.list[Head]:
        """The datasets not dropped, by name."""
        heads = self._store.heads().all(ENTITY)
        return sorted((head for _, head in heads if not head["dropped"]), key=_by_name)

    def show(self, name: str) -> Head:
        """The head of one dataset (a dropped one too, with dropped=True); NotFound if none."""
        head = self._store.heads().get(ENTITY, name)
        if head is None:
            raise _not_found(name)
        return head

    def read(self, name: str) -> pa.Table:
        """Dataset `name`'s rows as a pyarrow Table (NotFound if there is none, or dropped)."""
        from lakehouse.catalog._read import read

        return read(self._store, name)

    # -- the shared command --------------------------------------------------------------

    def _put(
        self,
        kind: str,
        name: str,
        info: ObjectInfo,
        *,
        payload: dict[str, Any],
        options: Options,
        idempotency_key: str | None,
    ) -> Outcome:
        extra = {"dataset_id": payload["dataset_id"], "fingerprint": info.fingerprint}
        extra |= {"object": info.path, "rows": info.rows}

        def decide(heads: Heads) -> Decision:
            head = heads.get(ENTITY, name)
            rev = head["rev"] if head else 0
            check_rev(ENTITY, name, rev, options.if_rev, reread="show")
            if head is not None and not head["dropped"]:
                if head["fingerprint"] != info.fingerprint and not options.replace:
                    raise _fingerprint_conflict(head, info)
                if head["fingerprint"] == info.fingerprint and _same_object(head, info):
                    return Decision([], ENTITY, name, rev, noop=True, extra=extra)
            draft = Draft(kind, ENTITY, name, payload, rev + 1)
            return Decision([draft], ENTITY, name, rev + 1, extra=extra)

        request = {
            "verb": kind,
            "name": name,
            "sha256": info.sha256,
            "fingerprint": info.fingerprint,
            "replace": options.replace,
        }
        outcome = self._store.execute(decide, idempotency_key=idempotency_key, request=request)
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


def _options(
    name: str, replace: bool, if_rev: int | None, idempotency_key: str | None, what: str
) -> Options:
    """Check the name (before anything is written) and the options."""
    data = {"replace": replace, "if_rev": if_rev, "idempotency_key": idempotency_key}
    options = parse(Options, data, what=what)
    validate_dataset_name(name)
    return options


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


def _same_object(head: Head, info: ObjectInfo) -> bool:
    return [file["sha256"] for file in head["files"]] == [info.sha256]


def _by_name(head: Head) -> str:
    return str(head["name"])


def _not_found(name: str) -> NotFound:
    return NotFound(
        f"no dataset {name!r}",
        hint="list datasets with 'lakehouse dataset list'",
        entity=ENTITY,
        id=name,
        dataset_id=dataset_id(name),
    )


def _fingerprint_conflict(head: Head, info: ObjectInfo) -> Conflict:
    name = head["name"]
    return Conflict(
        f"dataset {name} has schema fingerprint {head['fingerprint']}; the new data has "
        f"{info.fingerprint}",
        hint=f"compare with 'lakehouse dataset show {name}', or pass --replace to replace it",
        entity=ENTITY,
        id=name,
        existing_fingerprint=head["fingerprint"],
        new_fingerprint=info.fingerprint,
        rev=head["rev"],
    )
