"""The session read models: `sessions` (one row each) and `session_attempts`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lakehouse._columns import columns, json_text
from lakehouse.sessions._bulk import ATTEMPTS, SESSIONS
from lakehouse.sessions._models import KINDS, SessionHead
from projections import Changes, Event, Policy, Projection, Table

SESSIONS_TABLE = Table(
    "sessions",
    columns(
        "id VARCHAR",
        "model VARCHAR",
        "outcome VARCHAR",
        "grounded_in_roster BOOLEAN",
        "attempts BIGINT",
        "timings VARCHAR",
        "started_at VARCHAR",
        "ended_at VARCHAR",
        "content_hash VARCHAR",
        "rev BIGINT",
        "created_seq BIGINT",
        "created_at VARCHAR",
    ),
    key="id",
)
ATTEMPTS_TABLE = Table(
    "session_attempts",
    columns(
        "session_id VARCHAR",
        "attempt BIGINT",
        "prompt VARCHAR",
        "raw VARCHAR",
        "verdict VARCHAR",
        "seq BIGINT",
    ),
    order=("seq", "attempt"),
)


class SessionsProjection(Projection):
    """Each session's summary, and one row per attempt (numbered from 1)."""

    name = "sessions"
    kinds = frozenset(KINDS)
    # skip: a record that one entity's row cannot hold (written around the commands'
    # validation) is a dead letter the doctor names; every other entity stays current,
    # where a stop would freeze the whole table at that record for good
    policy: ClassVar[Policy] = "skip"
    tables: ClassVar[tuple[Table, ...]] = (SESSIONS_TABLE, ATTEMPTS_TABLE)
    columnar: ClassVar[Mapping[str, str]] = {"sessions": SESSIONS, "session_attempts": ATTEMPTS}

    def apply(self, event: Event[SessionHead], changes: Changes) -> None:
        """Set the session's row and append its attempts."""
        head, record = event.head, event.record
        if head is None:
            changes["sessions"].remove(record.id)
            return
        attempts = head.get("attempts") or []
        if type(attempts) is not list:
            raise ValueError(f"attempts is a {type(attempts).__name__}, not a list")
        attempt_row = ATTEMPTS_TABLE.row
        rows = [
            attempt_row(
                session_id=head["id"],
                attempt=number,
                prompt=attempt["prompt"],
                raw=attempt["raw"],
                verdict=attempt["verdict"],
                seq=record.seq,
            )
            for number, attempt in enumerate(attempts, 1)
        ]
        table = changes["session_attempts"]
        for row in rows:  # the session and its attempts, or nothing
            table.table.check(row)
        changes["sessions"].put(
            SESSIONS_TABLE.row(
                id=head["id"],
                model=head.get("model"),
                outcome=head.get("outcome"),
                grounded_in_roster=head.get("grounded_in_roster"),
                attempts=len(attempts),
                timings=json_text(head.get("timings")),
                started_at=head.get("started_at"),
                ended_at=head.get("ended_at"),
                content_hash=head.get("content_hash"),
                rev=head["rev"],
                created_seq=head["created_seq"],
                created_at=head["created_at"],
            )
        )
        table.appended.extend(rows)
