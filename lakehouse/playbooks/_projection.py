"""The playbook read models: `playbooks` (current heads) and `playbook_search`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lakehouse._columns import columns, text_list
from lakehouse._search import SearchProjection, search_table
from lakehouse.playbooks._bulk import PLAYBOOKS, SEARCH
from lakehouse.playbooks._models import KINDS, PlaybookHead
from projections import Changes, Event, Policy, Projection, Table

PLAYBOOKS_TABLE = Table(
    "playbooks",
    columns(
        "id VARCHAR",
        "query VARCHAR",
        "endorsed VARCHAR[]",
        "target_count BIGINT",
        "fingerprint VARCHAR",
        "kind VARCHAR",
        "retired BOOLEAN",
        "retired_reason VARCHAR",
        "rev BIGINT",
        "created_seq BIGINT",
        "created_at VARCHAR",
        "updated_seq BIGINT",
        "updated_at VARCHAR",
    ),
    key="id",
)
_KINDS = frozenset(KINDS)


class PlaybooksProjection(Projection):
    """Each playbook's head."""

    name = "playbooks"
    kinds = _KINDS
    # skip: a record that one entity's row cannot hold (written around the commands'
    # validation) is a dead letter the doctor names; every other entity stays current,
    # where a stop would freeze the whole table at that record for good
    policy: ClassVar[Policy] = "skip"
    tables: ClassVar[tuple[Table, ...]] = (PLAYBOOKS_TABLE,)
    columnar: ClassVar[Mapping[str, str]] = {"playbooks": PLAYBOOKS}

    def apply(self, event: Event[PlaybookHead], changes: Changes) -> None:
        """Set the playbook's row."""
        head = event.head
        if head is None:
            changes["playbooks"].remove(event.record.id)
            return
        changes["playbooks"].put(
            PLAYBOOKS_TABLE.row(
                id=head["id"],
                query=head.get("query"),
                endorsed=text_list(head.get("endorsed")),
                target_count=head.get("target_count"),
                fingerprint=head.get("fingerprint"),
                kind=head.get("kind"),
                retired=bool(head.get("retired")),
                retired_reason=head.get("retired_reason"),
                rev=head["rev"],
                created_seq=head["created_seq"],
                created_at=head["created_at"],
                updated_seq=head["updated_seq"],
                updated_at=head["updated_at"],
            )
        )


class PlaybookSearchProjection(SearchProjection):
    """The query of every playbook that is not retired, for similarity search."""

    name = "playbook_search"
    kinds = _KINDS
    tables: ClassVar[tuple[Table, ...]] = (search_table("playbook_search", "id"),)
    columnar: ClassVar[Mapping[str, str]] = {"playbook_search": SEARCH}

    def apply(self, event: Event[PlaybookHead], changes: Changes) -> None:
        """Index the playbook's query; a retired playbook leaves the index."""
        head = event.head
        if head is None or head.get("retired"):
            changes["playbook_search"].remove(event.record.id)
            return
        table = changes["playbook_search"]
        table.put(
            table.table.row(
                id=head["id"],
                text=head.get("query") or "",
                tags=text_list(head.get("endorsed")),
                retired=False,
            )
        )
