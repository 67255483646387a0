"""What a catalog command does to a dataset with data already: the verdict and its refusals.

`action` says created, replaced, appended or unchanged, or raises the Conflict that
explains why not (lakehouse/catalog/_api.py's docstring has the table).
"""

from __future__ import annotations

from typing import Any

from lakehouse._errors import Conflict
from lakehouse.catalog._models import ENTITY, DatasetHead, Options
from lakehouse.catalog._objects import ObjectInfo


def action(head: DatasetHead | None, info: ObjectInfo, options: Options) -> str:
    """What the command does to the dataset `head`: created, replaced, appended, unchanged."""
    if head is None or head["dropped"]:
        return "created"
    objects = [file["sha256"] for file in head["files"]]
    if head["fingerprint"] != info.fingerprint:
        if options.mode == "append":
            raise _append_conflict(head, info)
        if not options.replace:
            raise _fingerprint_conflict(head, info)
        return "replaced"
    if options.mode == "append":
        return "unchanged" if info.sha256 in objects else "appended"
    if objects == [info.sha256]:
        return "unchanged"
    if options.mode == "replace" or options.replace:
        return "replaced"
    raise _data_conflict(head, info)


def outcome_extra(
    payload: dict[str, Any], info: ObjectInfo, head: DatasetHead | None, action: str
) -> dict[str, Any]:
    """The outcome's extra fields: the object, and the dataset's rows and files after."""
    files, rows = 1, info.rows
    if head is not None and action in ("appended", "unchanged"):
        files = len(head["files"]) + (action == "appended")
        rows = head["rows"] + (info.rows if action == "appended" else 0)
    return {
        "dataset_id": payload["dataset_id"],
        "fingerprint": info.fingerprint,
        "action": action,
        "object": info.path,
        "object_rows": info.rows,
        "rows": rows,
        "files": files,
    }


def _fingerprint_conflict(head: DatasetHead, info: ObjectInfo) -> Conflict:
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


def _data_conflict(head: DatasetHead, info: ObjectInfo) -> Conflict:
    name = head["name"]
    return Conflict(
        f"dataset {name} holds other data ({_count(head['rows'], 'row')} in "
        f"{_count(len(head['files']), 'object')}); the new data has {_count(info.rows, 'row')}",
        hint=f"pass --mode replace to replace its data, or --mode append to add these rows "
        f"(see 'lakehouse dataset show {name}')",
        entity=ENTITY,
        id=name,
        rev=head["rev"],
        new_sha256=info.sha256,
    )


def _append_conflict(head: DatasetHead, info: ObjectInfo) -> Conflict:
    name = head["name"]
    return Conflict(
        f"cannot append to dataset {name}: it has schema fingerprint {head['fingerprint']}; "
        f"the new data has {info.fingerprint}",
        hint=f"appended rows need the same columns and types (compare with 'lakehouse dataset "
        f"show {name}'); --replace replaces the dataset instead",
        entity=ENTITY,
        id=name,
        existing_fingerprint=head["fingerprint"],
        new_fingerprint=info.fingerprint,
        rev=head["rev"],
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
