"""How playbook records fold into playbook heads."""

from __future__ import annotations

from typing import Any

from journal import Record
from lakehouse._family import Family, Head, unknown_entity
from lakehouse.playbooks._models import ENTITY, KINDS, RECORDED, RETIRED

_BODY = ("query", "endorsed", "target_count", "fingerprint", "kind")


class PlaybooksFamily(Family):
    """Playbooks: endorsed answers to a query, recorded and later retired."""

    name = "playbooks"
    entity = ENTITY
    kinds = KINDS
    creates = frozenset({RECORDED.name})

    def fold(self, head: Head | None, record: Record, payload: dict[str, Any]) -> Head | None:
        """The playbook's head after `record`."""
        if record.kind == RECORDED.name:
            head = {
                "id": record.id,
                **{key: payload.get(key) for key in _BODY},
                "retired": False,
                "retired_reason": None,
                "created_seq": record.seq,
                "created_at": record.ts,
            }
        if head is None:
            raise unknown_entity(record)
        head = {**head, "rev": record.rev, "updated_seq": record.seq, "updated_at": record.ts}
        if record.kind == RETIRED.name:
            head["retired"], head["retired_reason"] = True, payload.get("reason")
        return head


PLAYBOOKS = PlaybooksFamily()
