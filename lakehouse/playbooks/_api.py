"""`store.playbooks`: record, retire, show and list playbooks."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from journal import Draft
from lakehouse._errors import NotFound
from lakehouse._heads import Heads
from lakehouse._input import mutation, parse
from lakehouse._kernel import Decision, Outcome, check_rev
from lakehouse.playbooks._family import PLAYBOOKS
from lakehouse.playbooks._models import (
    ENTITY,
    RECORDED,
    RETIRED,
    PlaybookBody,
    PlaybookHead,
    Retirement,
)

if TYPE_CHECKING:
    from lakehouse._kernel import Host


def new_id() -> str:
    """A fresh playbook id."""
    return "pb_" + uuid.uuid4().hex


class Playbooks:
    """The playbooks family of one store."""

    def __init__(self, store: Host) -> None:
        self._store = store

    def record(
        self,
        *,
        query: str,
        endorsed: list[str] | tuple[str, ...],
        target_count: int,
        fingerprint: str | None = None,
        kind: Literal["answer", "fill"] = "answer",
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Record a new playbook (a fresh id, rev 1)."""
        options = mutation("playbook record", if_rev, idempotency_key)
        data = {
            "query": query,
            "endorsed": endorsed,
            "target_count": target_count,
            "fingerprint": fingerprint,
            "kind": kind,
        }
        body = parse(PlaybookBody, data, what="playbook record").check()
        pid = new_id()

        def decide(heads: Heads) -> Decision:
            check_rev(ENTITY, pid, 0, options.if_rev, reread="show")
            return Decision([Draft(RECORDED.name, ENTITY, pid, body.fields(), 1)], ENTITY, pid, 1)

        request = {"verb": "playbook.record", **body.model_dump()}
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    def retire(
        self,
        pid: str,
        *,
        reason: str | None = None,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Retire a playbook: it stays readable but leaves the list; twice changes nothing."""
        options = mutation("playbook retire", if_rev, idempotency_key)
        retirement = parse(Retirement, {"reason": reason}, what="playbook retire")

        def decide(heads: Heads) -> Decision:
            head = _existing(heads, pid)
            check_rev(ENTITY, pid, head["rev"], options.if_rev, reread="show")
            if head["retired"]:
                return Decision([], ENTITY, pid, head["rev"], noop=True)
            rev = head["rev"] + 1
            payload = {"reason": retirement.reason}
            return Decision([Draft(RETIRED.name, ENTITY, pid, payload, rev)], ENTITY, pid, rev)

        request = {"verb": "playbook.retire", "id": pid, "reason": reason}
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    def show(self, pid: str) -> PlaybookHead:
        """The head of a playbook (retired ones too); NotFound if there is none."""
        return _existing(self._store.heads(), pid)

    def search(self, query: str, *, k: int = 10, as_of: int | None = None) -> list[dict[str, Any]]:
        """The `k` live playbooks whose query is most like `query`, best first, with `score`."""
        from lakehouse._search import search_rows

        models = self._store.read_models(as_of=as_of, only=("playbooks", "playbook_search"))
        try:
            return search_rows(models, "playbook_search", "playbooks", query, k)
        finally:
            models.close()

    def list(self, *, include_retired: bool = False) -> list[PlaybookHead]:
        """Playbooks, oldest first; retired ones only if asked."""
        heads = [
            head
            for _, head in self._store.heads().all(PLAYBOOKS)
            if include_retired or not head["retired"]
        ]
        return sorted(heads, key=lambda head: head["created_seq"])


def _existing(heads: Heads, pid: str) -> PlaybookHead:
    head = heads.get(PLAYBOOKS, pid)
    if head is None:
        raise NotFound(
            f"no playbook {pid!r}",
            hint="list playbooks with 'lakehouse playbook list --include-retired'",
            entity=ENTITY,
            id=pid,
        )
    return head
