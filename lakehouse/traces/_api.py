"""`store.traces`: add, update, revise, retire, get, history and list pathway traces."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from journal import Draft
from lakehouse._errors import Conflict, NotFound
from lakehouse._family import H
from lakehouse._heads import Heads
from lakehouse._input import Mutation, mutation, parse
from lakehouse._kernel import Decision, Outcome, check_rev
from lakehouse.traces._family import TRACES
from lakehouse.traces._models import (
    ADDED,
    CONTENT_INDEX,
    ENTITY,
    REPLAYED,
    RETIRED,
    REVISED,
    SUPERSEDED,
    UPDATED,
    Retirement,
    TraceBody,
    TraceHead,
)

if TYPE_CHECKING:
    from lakehouse._kernel import Host


def predecessors(start: H, find: Callable[[str], H | None]) -> tuple[list[H], list[str]]:
    """The chain from `start` back through its predecessors (found by `find`), and problems.

    A trace naming one already in the chain (a cycle) or one `find` does not know (a
    missing link) ends the chain with a problem rather than an error: history shows what
    is there. The API walks the heads; the query endpoint walks the `traces` read model.
    """
    chain, problems, seen = [start], [], {start["uid"]}
    while (previous := chain[-1]["predecessor"]) is not None:
        if previous in seen:
            problems.append(f"cycle: {chain[-1]['uid']} names {previous}, already in the chain")
            break
        found = find(previous)
        if found is None:
            problems.append(f"missing link: {chain[-1]['uid']} names {previous}, not found")
            break
        seen.add(previous)
        chain.append(found)
    return chain, problems


def new_uid() -> str:
    """A fresh trace uid."""
    return "trc_" + uuid.uuid4().hex[:24]


class Traces:
    """The pathway-traces family of one store."""

    def __init__(self, store: Host) -> None:
        self._store = store

    # -- mutations -----------------------------------------------------------------------

    def add(
        self,
        *,
        text: str | None = None,
        content: dict[str, Any] | None = None,
        tags: list[str] | tuple[str, ...] = (),
        idempotent: bool = False,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Add a trace (rev 1); with idempotent=True, equal content replays the existing one."""
        options = mutation("trace add", if_rev, idempotency_key)
        body = _body(text, content, tags, "trace add")
        uid = new_uid()

        def decide(heads: Heads) -> Decision:
            if idempotent:
                existing = _live_with_content(heads, body.content_hash())
                if existing is not None:
                    check_rev(ENTITY, existing["uid"], existing["rev"], options.if_rev)
                    payload = {"content_hash": body.content_hash()}
                    draft = Draft(REPLAYED.name, ENTITY, existing["uid"], payload, existing["rev"])
                    return Decision(
                        [draft], ENTITY, existing["uid"], existing["rev"], extra={"existing": True}
                    )
            check_rev(ENTITY, uid, 0, options.if_rev)
            return Decision([Draft(ADDED.name, ENTITY, uid, body.fields(), 1)], ENTITY, uid, 1)

        request = {"verb": "trace.add", **body.model_dump(), "idempotent": idempotent}
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    def update(
        self,
        uid: str,
        *,
        text: str | None = None,
        content: dict[str, Any] | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Change a trace's content or tags in place: same uid, rev + 1 (no change: a no-op)."""
        options = mutation("trace update", if_rev, idempotency_key)

        def decide(heads: Heads) -> Decision:
            head, body = _change(
                heads, "update", uid, text=text, content=content, tags=tags, options=options
            )
            if _unchanged(head, body):
                return Decision([], ENTITY, uid, head["rev"], noop=True)
            rev = head["rev"] + 1
            return Decision(
                [Draft(UPDATED.name, ENTITY, uid, body.fields(), rev)], ENTITY, uid, rev
            )

        request = _change_request("update", uid, text, content, tags)
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    def revise(
        self,
        uid: str,
        *,
        text: str | None = None,
        content: dict[str, Any] | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Supersede a trace with a new one (new uid, rev 1) whose predecessor is `uid`.

        A body equal to the trace's (text or content, and tags) is a no-op: nothing is
        appended and the outcome names `uid` itself, at its rev.
        """
        options = mutation("trace revise", if_rev, idempotency_key)
        new = new_uid()

        def decide(heads: Heads) -> Decision:
            head, body = _change(
                heads, "revise", uid, text=text, content=content, tags=tags, options=options
            )
            if _unchanged(head, body):  # the trace already holds it: no new one to link
                return Decision([], ENTITY, uid, head["rev"], noop=True)
            drafts = [
                Draft(REVISED.name, ENTITY, new, {**body.fields(), "predecessor": uid}, 1),
                Draft(SUPERSEDED.name, ENTITY, uid, {"successor": new}, head["rev"] + 1),
            ]
            return Decision(drafts, ENTITY, new, 1, extra={"predecessor": uid})

        request = _change_request("revise", uid, text, content, tags)
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    def retire(
        self,
        uid: str,
        *,
        reason: str | None = None,
        if_rev: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Retire a trace: it stays readable but leaves lists and search."""
        options = mutation("trace retire", if_rev, idempotency_key)
        retirement = parse(Retirement, {"reason": reason}, what="trace retire")

        def decide(heads: Heads) -> Decision:
            head = _existing(heads, uid)
            check_rev(ENTITY, uid, head["rev"], options.if_rev)
            if head["retired"]:
                return Decision([], ENTITY, uid, head["rev"], noop=True)
            rev = head["rev"] + 1
            payload = {"reason": retirement.reason}
            return Decision([Draft(RETIRED.name, ENTITY, uid, payload, rev)], ENTITY, uid, rev)

        request = {"verb": "trace.retire", "uid": uid, "reason": reason}
        return self._store.execute(decide, idempotency_key=options.idempotency_key, request=request)

    # -- reads ---------------------------------------------------------------------------

    def get(self, uid: str, *, as_of: int | None = None) -> TraceHead:
        """The current head of a trace (retired ones too), or its head as of seq `as_of`;
        NotFound if there is none."""
        return _existing(self._store.heads(as_of=as_of), uid, as_of)

    def history(self, uid: str, *, as_of: int | None = None) -> dict[str, Any]:
        """The chain of predecessors from `uid` back to the first trace, with any problems
        (as the traces were at seq `as_of`, if given)."""
        heads = self._store.heads(as_of=as_of)
        start = _existing(heads, uid, as_of)
        chain, problems = predecessors(start, lambda id: heads.get(TRACES, id))
        return {"uid": uid, "chain": chain, "problems": problems}

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        tag: str | None = None,
        include_retired: bool = False,
        as_of: int | None = None,
    ) -> list[dict[str, Any]]:
        """The `k` live traces most like `query`, best first (superseded ones never).

        Each hit is the trace's row in the `traces` read model plus its `score` (cosine
        similarity). Traces added since the last checkpoint are searched too.
        """
        from lakehouse._search import search_rows

        models = self._store.read_models(as_of=as_of, only=("traces", "trace_search"))
        try:
            return search_rows(
                models, "trace_search", "traces", query, k, tag=tag, include_retired=include_retired
            )
        finally:
            models.close()

    def list(self, *, tag: str | None = None, include_retired: bool = False) -> list[TraceHead]:
        """Current traces (not superseded), oldest first; retired ones only if asked."""
        heads = [
            head
            for _, head in self._store.heads().all(TRACES)
            if head["successor"] is None
            and (include_retired or not head["retired"])
            and (tag is None or tag in head["tags"])
        ]
        return sorted(heads, key=lambda head: head["created_seq"])


def _body(text: str | None, content: dict[str, Any] | None, tags: Any, what: str) -> TraceBody:
    return parse(TraceBody, {"text": text, "content": content, "tags": tags}, what=what)


def _change(
    heads: Heads,
    verb: str,
    uid: str,
    *,
    text: str | None,
    content: dict[str, Any] | None,
    tags: Any,
    options: Mutation,
) -> tuple[TraceHead, TraceBody]:
    """What update and revise both check: a live trace at the expected rev, a valid body."""
    head = _mutable(heads, uid, verb)
    check_rev(ENTITY, uid, head["rev"], options.if_rev)
    return head, _body_from(head, text, content, tags, f"trace {verb}")


def _change_request(
    verb: str, uid: str, text: str | None, content: dict[str, Any] | None, tags: Any
) -> dict[str, Any]:
    """What an idempotency key of update or revise is bound to (a tuple counts as its list)."""
    listed = list(tags) if type(tags) is tuple else tags
    return {"verb": f"trace.{verb}", "uid": uid, "text": text, "content": content, "tags": listed}


def _body_from(
    head: TraceHead, text: str | None, content: dict[str, Any] | None, tags: Any, what: str
) -> TraceBody:
    """The new body: the given text or content (else the old one), the given tags (else old)."""
    if text is None and content is None:
        text, content = head["text"], head["content"]
    return _body(text, content, head["tags"] if tags is None else tags, what)


def _unchanged(head: TraceHead, body: TraceBody) -> bool:
    """True if `body` is what the trace holds already: the same text or content (by its
    hash, so 1 and true differ as JSON does) and the same tags. Nothing is appended then."""
    return head.get("content_hash") == body.content_hash() and head["tags"] == body.tags


def _existing(heads: Heads, uid: str, as_of: int | None = None) -> TraceHead:
    head = heads.get(TRACES, uid)
    if head is None:
        if as_of is not None:
            raise NotFound(
                f"no trace {uid!r} as of seq {as_of}",
                hint="it may have been added later: drop --as-of-seq to read it as it is now",
                entity=ENTITY,
                id=uid,
                as_of_seq=as_of,
            )
        raise NotFound(
            f"no trace {uid!r}",
            hint="list traces with 'lakehouse trace list --include-retired'",
            entity=ENTITY,
            id=uid,
        )
    return head


def _mutable(heads: Heads, uid: str, verb: str) -> TraceHead:
    head = _existing(heads, uid)
    if head["successor"] is not None:
        raise Conflict(
            f"trace {uid} was revised into {head['successor']}; it cannot be {verb}d",
            hint=f"{verb} the current trace: 'lakehouse trace {verb} {head['successor']} ...'",
            entity=ENTITY,
            id=uid,
            successor=head["successor"],
        )
    if head["retired"]:
        raise Conflict(
            f"trace {uid} is retired; it cannot be {verb}d",
            hint="add a new trace instead",
            entity=ENTITY,
            id=uid,
        )
    return head


def _live_with_content(heads: Heads, content_hash: str) -> TraceHead | None:
    """The latest live trace (not retired, not superseded) whose content has this hash."""
    for uid in reversed(heads.lookup(CONTENT_INDEX, content_hash)):
        head = heads.get(TRACES, uid)
        live = head is not None and not head["retired"] and head["successor"] is None
        if live and head is not None and head.get("content_hash") == content_hash:
            return head
    return None
