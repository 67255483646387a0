"""How catalog records fold into dataset heads (one head per dataset name)."""

from __future__ import annotations

from typing import Any

from journal import Record
from lakehouse._errors import RecordUnfoldable
from lakehouse._family import Family, unknown_entity
from lakehouse.catalog._models import (
    APPENDED,
    DROPPED,
    ENTITY,
    INGESTED,
    KINDS,
    REGISTERED,
    DatasetHead,
)


class CatalogFamily(Family[DatasetHead]):
    """Datasets: named tables, each a content-addressed Parquet object under objects/."""

    name = "catalog"
    entity = ENTITY
    kinds = KINDS

    def fold(
        self, head: DatasetHead | None, record: Record, payload: dict[str, Any]
    ) -> DatasetHead | None:
        """The dataset's head after `record`."""
        kind = record.kind
        if kind in (INGESTED.name, REGISTERED.name):
            # the new object replaces the dataset's files; a dropped dataset comes back
            head = {
                "name": record.id,
                "dataset_id": payload["dataset_id"],
                "fingerprint": payload["fingerprint"],
                "schema": payload["schema"],
                "files": payload["files"],
                "rows": payload["rows"],
                "source": payload["source"],
                "dropped": False,
                "ingested_at": record.ts,
                "created_seq": head["created_seq"] if head else record.seq,
                "rev": record.rev,  # both set again below, as for every kind
                "seq": record.seq,
            }
        if head is None:
            raise unknown_entity(record)
        if kind == APPENDED.name:
            head = _appended(head, record, payload)
        head = {**head, "rev": record.rev, "seq": record.seq}
        if kind == DROPPED.name:
            head["dropped"] = True
        return head


def _appended(head: DatasetHead, record: Record, payload: dict[str, Any]) -> DatasetHead:
    """The head with the appended object read too: its files and rows add up."""
    if head["dropped"] or head["fingerprint"] != payload["fingerprint"]:
        raise RecordUnfoldable(
            f"record seq {record.seq} appends to dataset {record.id}, which is dropped or "
            "has another schema",
            hint="the journal is damaged or was edited: run 'lakehouse doctor --verify-journal'",
            seq=record.seq,
            kind=record.kind,
        )
    return {
        **head,
        "files": [*head["files"], *payload["files"]],
        "rows": head["rows"] + payload["rows"],
        "source": payload["source"],
        "ingested_at": record.ts,
    }


CATALOG = CatalogFamily()
