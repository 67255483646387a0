"""How session records fold into session heads."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from journal import Record
from lakehouse._errors import RecordUnfoldable
from lakehouse._family import Bulk, Family
from lakehouse.sessions._bulk import BULK
from lakehouse.sessions._models import ENTITY, KINDS, RECORDED, SessionHead


class SessionsFamily(Family[SessionHead]):
    """Coordinator/validator sessions: recorded once, whole, and never changed."""

    name = "sessions"
    entity = ENTITY
    kinds = KINDS
    creates = frozenset({RECORDED.name})
    bulk: ClassVar[Bulk | None] = BULK

    def fold(
        self, head: SessionHead | None, record: Record, payload: dict[str, Any]
    ) -> SessionHead | None:
        """The session's head after `record`."""
        if record.kind != RECORDED.name:  # a kind this family knows but cannot fold
            raise RecordUnfoldable(
                f"record seq {record.seq} ({record.kind}) is about session {record.id}, "
                "which is recorded once, whole, and never changed",
                hint="the journal is damaged or was edited: run "
                "'lakehouse doctor --verify-journal'",
                seq=record.seq,
                kind=record.kind,
                entity=record.entity,
                id=record.id,
            )
        body = {key: value for key, value in payload.items() if key != "idempotency"}
        # the body as recorded (SessionBody.fields): its keys are the head's, in its order
        return cast(
            SessionHead,
            {
                "id": record.id,
                **body,
                "rev": record.rev,
                "created_seq": record.seq,
                "created_at": record.ts,
            },
        )


SESSIONS = SessionsFamily()
