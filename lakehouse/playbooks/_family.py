"""How playbook records fold into playbook heads."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from journal import Record
from lakehouse._family import Bulk, Family, unknown_entity
from lakehouse.playbooks._bulk import BULK
from lakehouse.playbooks._models import ENTITY, KINDS, RECORDED, RETIRED, PlaybookHead


class PlaybooksFamily(Family[PlaybookHead]):
    """Playbooks: endorsed answers to a query, recorded and later retired."""

    name = "playbooks"
    entity = ENTITY
    kinds = KINDS
    creates = frozenset({RECORDED.name})
    bulk: ClassVar[Bulk | None] = BULK

    def fold(
        self, head: PlaybookHead | None, record: Record, payload: dict[str, Any]
    ) -> PlaybookHead | None:
        """The playbook's head after `record`."""
        if record.kind == RECORDED.name:
            # .get: a record written around validation folds too (its projection skips it)
            head = cast(
                PlaybookHead,
                {
                    "id": record.id,
                    "query": payload.get("query"),
                    "endorsed": payload.get("endorsed"),
                    "target_count": payload.get("target_count"),
                    "fingerprint": payload.get("fingerprint"),
                    "kind": payload.get("kind"),
                    "retired": False,
                    "retired_reason": None,
                    "created_seq": record.seq,
                    "created_at": record.ts,
                    "rev": record.rev,
                    "updated_seq": record.seq,
                    "updated_at": record.ts,
                },
            )
        elif head is None:
            raise unknown_entity(record)
        else:
            head = {**head, "rev": record.rev, "updated_seq": record.seq, "updated_at": record.ts}
        if record.kind == RETIRED.name:
            head["retired"], head["retired_reason"] = True, payload.get("reason")
        return head


PLAYBOOKS = PlaybooksFamily()
