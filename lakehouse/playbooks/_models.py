"""What a playbook is: its input models, its record kinds, its head, the rules of a `fill` one."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import Field, field_validator

from lakehouse._errors import InvalidInput
from lakehouse._family import Kind
from lakehouse._input import BIGINT_MAX, Input, Names

ENTITY = "playbook"

RECORDED = Kind("playbook.recorded")
RETIRED = Kind("playbook.retired")
KINDS = {kind.name: kind for kind in (RECORDED, RETIRED)}


class PlaybookBody(Input):
    """A playbook: the query it answers, the names it endorses and how many are wanted."""

    query: str = Field(min_length=1, max_length=4096)
    endorsed: Names = Field(min_length=1, max_length=1024)
    target_count: Annotated[int, Field(ge=1, le=BIGINT_MAX)]  # the BIGINT of `playbooks`
    fingerprint: str | None = Field(default=None, min_length=1, max_length=256)
    kind: Literal["answer", "fill"] = "answer"

    @field_validator("endorsed")
    @classmethod
    def _endorsed(cls, names: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in names:
            if not name:
                raise ValueError("endorsed names must be non-empty")
            if name in seen:
                raise ValueError(f"{name!r} is endorsed twice; endorse each name once")
            seen.add(name)
        return names

    def check(self) -> PlaybookBody:
        """Refuse a `fill` playbook with no fingerprint or more than 2 x target_count names."""
        if self.kind != "fill":
            return self
        if self.fingerprint is None:
            raise InvalidInput(
                "playbook record: fingerprint: a fill playbook needs a fingerprint",
                hint="pass the fingerprint of the roster the playbook fills",
                field="fingerprint",
            )
        if len(self.endorsed) > 2 * self.target_count:
            raise InvalidInput(
                f"playbook record: endorsed: a fill playbook endorses at most 2 x target_count "
                f"= {2 * self.target_count} names, not {len(self.endorsed)}",
                hint="endorse fewer names or raise target_count",
                field="endorsed",
                limit=2 * self.target_count,
                actual=len(self.endorsed),
            )
        return self

    def fields(self) -> dict[str, Any]:
        """The payload of the playbook's record."""
        return self.model_dump()


class Retirement(Input):
    """Why a playbook is retired."""

    reason: str | None = Field(default=None, max_length=1024)


class PlaybookHead(TypedDict):
    """A playbook after its latest record: what `playbook show` shows."""

    id: str
    query: str
    endorsed: list[str]
    target_count: int
    fingerprint: str | None
    kind: str
    retired: bool
    retired_reason: str | None
    created_seq: int
    created_at: str
    rev: int
    updated_seq: int
    updated_at: str
