"""The command kernel: what a family's commands decide, what a command answers, and the
parts of the store a family may use.

A family's API builds a `Command` (heads in, `Decision` out) and hands it to
`Host.execute`, which runs it under the store lock and answers an `Outcome`. Families see
the store only as a `Host`; the engine modules (read models, rebuild, status, follow) see
it as an `Engine`. `Store` (lakehouse/_store.py) is the one class that is both, and the
composition root: it alone knows the registry of families.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from journal import Draft, Record
from lakehouse._errors import Conflict, InvalidInput
from lakehouse._family import Family, Head
from lakehouse._heads import Heads

if TYPE_CHECKING:
    from checkpoints import CheckpointStore
    from journal import Journal
    from projections import Projection, ReadModels


@dataclass
class Outcome:
    """What a command did: the records it appended (none for a no-op) and its answer."""

    seq: int | None
    entity: str
    id: str
    rev: int
    appended: bool = True  # False: nothing to do (e.g. retiring a retired trace)
    replayed: bool = False  # True: an idempotency key seen before; the first answer again
    head: Head | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The outcome as the JSON object the CLI prints."""
        out = {
            "ok": True,
            "seq": self.seq,
            "entity": self.entity,
            "id": self.id,
            "rev": self.rev,
            "appended": self.appended,
            "replayed": self.replayed,
        }
        return {**out, **self.extra}


@dataclass
class Decision:
    """A command's verdict: the drafts to append, or `noop` with the answer to give."""

    drafts: list[Draft]
    entity: str
    id: str
    rev: int
    noop: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


Command = Callable[[Heads], Decision]


class Host(Protocol):
    """What a family may use of the store: its root, its heads, its read models, and
    `execute` to run a command."""

    root: Path

    def heads(self, *, as_of: int | None = None) -> Heads:
        """The heads at the journal's head, or as of seq `as_of`."""
        ...

    def execute(
        self, command: Command, *, idempotency_key: str | None = None, request: Any = None
    ) -> Outcome:
        """Run `command` under the store lock and append what it decides."""
        ...

    def read_models(
        self, *, as_of: int | None = None, only: Collection[str] | None = None
    ) -> ReadModels:
        """The read models at the head (or `as_of`), locked down for user SQL (with `only`,
        just those of the projections named)."""
        ...

    def close(self) -> None:
        """Close the store."""
        ...

    def __enter__(self) -> Host: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Engine(Host, Protocol):
    """What the engine modules (read models, rebuild, status, follow, doctor) use of the
    store: the host's parts plus the journal, the checkpoints and the projections."""

    journal: Journal
    checkpoints: CheckpointStore
    families: list[Family[Any]]

    def projections(self) -> list[Projection]:
        """The store's projections, in their fixed order."""
        ...

    def records(self, *, after: int, upto: int | None = None) -> Iterable[Record]:
        """The records after seq `after` (up to `upto`), from archived segments if need be."""
        ...

    def forget_heads(self) -> None:
        """Drop the cached heads."""
        ...


def check_rev(
    entity: str, id: str, actual: int, expected: int | None, *, reread: str = "get"
) -> None:
    """Refuse with Conflict when `--if-rev` does not match the entity's current rev."""
    if expected is not None and expected != actual:
        raise Conflict(
            f"{entity} {id} is at rev {actual}, not rev {expected}",
            hint=f"re-read it with 'lakehouse {entity} {reread} {id}' and retry with "
            f"--if-rev {actual}",
            entity=entity,
            id=id,
            expected_rev=expected,
            actual_rev=actual,
        )


def request_fingerprint(request: Any) -> str:
    """The digest an idempotency key is remembered with: a retry must send the same."""
    try:
        data = orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise InvalidInput(
            "this command cannot carry an idempotency key", hint="drop --idempotency-key"
        ) from exc
    return hashlib.sha256(data).hexdigest()[:32]


def replay(key: str, first: dict[str, Any], fingerprint: str | None) -> Outcome:
    """The first answer again for a key seen before; Conflict if it was another command."""
    if first.get("request") != fingerprint:
        raise Conflict(
            f"idempotency key {key!r} was first used for a different command "
            f"({first['kind']} on {first['entity']} {first['id']}, seq {first['seq']})",
            hint="use a new key for a new command",
            field="idempotency_key",
            seq=first["seq"],
        )
    return Outcome(
        first["seq"], first["entity"], first["id"], first["rev"], appended=False, replayed=True
    )


def remembered(decision: Decision, key: str, fingerprint: str | None) -> None:
    """Carry the idempotency key and request digest in the decision's first record."""
    first = decision.drafts[0]
    payload = {**first.payload, "idempotency": {"key": key, "request": fingerprint}}
    decision.drafts[0] = first._replace(payload=payload)


def primary(records: list[Record], decision: Decision) -> Record:
    """The record a command's outcome names: the first about the decided entity."""
    for record in records:
        if record.entity == decision.entity and record.id == decision.id:
            return record
    return records[0]
