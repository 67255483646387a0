"""`store.sessions`: record, show and list coordinator/validator sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journal import Draft
from lakehouse._errors import Conflict, NotFound
from lakehouse._heads import Heads
from lakehouse._input import mutation, parse
from lakehouse._kernel import Decision, Outcome, check_rev
from lakehouse.sessions._family import SESSIONS
from lakehouse.sessions._models import ENTITY, RECORDED, SessionBody, SessionHead

if TYPE_CHECKING:
    from lakehouse._kernel import Host


class Sessions:
    """The sessions family of one store."""

    def __init__(self, store: Host) -> None:
        self._store = store

    def record(
        self,
        session: dict[str, Any],
        *,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Record a whole session (rev 1); recording the same session again changes nothing."""
        options = mutation("session record", if_rev, idempotency_key)
        body = parse(SessionBody, session, what="session record")
        sid, content_hash = body.id, body.content_hash()

        def decide(heads: Heads) -> Decision:
            head = heads.get(SESSIONS, sid)
            check_rev(
                ENTITY, sid, 0 if head is None else head["rev"], options.if_rev, reread="show"
            )
            if head is None:
                return Decision(
                    [Draft(RECORDED.name, ENTITY, sid, body.fields(), 1)], ENTITY, sid, 1
                )
            if head["content_hash"] != content_hash:
                raise Conflict(
                    f"session {sid} is already recorded with different content",
                    hint=f"a session is recorded once: compare with 'lakehouse session show "
                    f"{sid}', or record this one under a new id",
                    entity=ENTITY,
                    id=sid,
                )
            return Decision([], ENTITY, sid, head["rev"], noop=True)

        request = {"verb": "session.record", **body.model_dump()}
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    def show(self, sid: str, *, as_of: int | None = None) -> SessionHead:
        """The head of a recorded session (as of seq `as_of`, if given); NotFound if none."""
        head = self._store.heads(as_of=as_of).get(SESSIONS, sid)
        if head is None:
            if as_of is not None:
                raise NotFound(
                    f"no session {sid!r} as of seq {as_of}",
                    hint="it may have been recorded later: drop --as-of-seq to read it now",
                    entity=ENTITY,
                    id=sid,
                    as_of_seq=as_of,
                )
            raise NotFound(
                f"no session {sid!r}",
                hint="list sessions with 'lakehouse session list'",
                entity=ENTITY,
                id=sid,
            )
        return head

    def list(self) -> list[SessionHead]:
        """Every recorded session, in the order they were recorded."""
        heads = [head for _, head in self._store.heads().all(SESSIONS)]
        return sorted(heads, key=lambda head: head["created_seq"])
