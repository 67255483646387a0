"""What a session is: its input models, its record kind, its head and its content hash."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal, TypedDict

import orjson
from pydantic import Field

from lakehouse._family import Kind
from lakehouse._input import ExactFloat, Input

ENTITY = "session"
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"

RECORDED = Kind("session.recorded")
KINDS = {kind.name: kind for kind in (RECORDED,)}

# seconds (or ms): finite, and an int only if a double holds it exactly (never rounded)
Duration = Annotated[ExactFloat, Field(ge=0)]


class Attempt(Input):
    """One try of the coordinator: the prompt sent, the raw answer, the validator's verdict."""

    prompt: str
    raw: str
    verdict: str


class SessionBody(Input):
    """A whole coordinator/validator session, as recorded once it has ended."""

    id: str = Field(pattern=ID_PATTERN)
    model: str = Field(min_length=1, max_length=256)
    attempts: list[Attempt]
    outcome: Literal["success", "max_iter_exhausted", "infra_error"]
    grounded_in_roster: bool
    timings: dict[str, Duration]
    started_at: str | None = Field(default=None, max_length=64)
    ended_at: str | None = Field(default=None, max_length=64)

    def fields(self) -> dict[str, Any]:
        """The payload of the session's record (the id is the record's), with its hash."""
        out = self.model_dump(exclude={"id"})
        out["content_hash"] = self.content_hash()
        return out

    def content_hash(self) -> str:
        """sha256 of everything recorded about the session: equal sessions, equal hash."""
        body = orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(body).hexdigest()


class AttemptHead(TypedDict):
    """One attempt of a session's head, as `Attempt` records it."""

    prompt: str
    raw: str
    verdict: str


class SessionHead(TypedDict):
    """A recorded session: its body as recorded, with its id, rev and when it was recorded."""

    id: str
    model: str
    attempts: list[AttemptHead]
    outcome: str
    grounded_in_roster: bool
    timings: dict[str, float]
    started_at: str | None
    ended_at: str | None
    content_hash: str
    rev: int
    created_seq: int
    created_at: str
