"""What a trace is: its input models, its record kinds, its head and its content hash."""

from __future__ import annotations

import hashlib
from typing import Any, NotRequired, TypedDict

import orjson
from pydantic import Field, field_validator, model_validator

from lakehouse._family import Kind
from lakehouse._input import Input, Names, exact_json

ENTITY = "trace"
CONTENT_INDEX = "trace_content"
MAX_TEXT = 64 * 1024
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

ADDED = Kind("trace.added")
REPLAYED = Kind("trace.replayed")
UPDATED = Kind("trace.updated")
REVISED = Kind("trace.revised")
SUPERSEDED = Kind("trace.superseded")
RETIRED = Kind("trace.retired")
KINDS = {kind.name: kind for kind in (ADDED, REPLAYED, UPDATED, REVISED, SUPERSEDED, RETIRED)}


class TraceBody(Input):
    """A trace's content: plain text or a JSON object, and its tags."""

    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    content: dict[str, Any] | None = None
    tags: Names = Field(default_factory=list, max_length=64)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        import re

        for tag in tags:
            if not re.fullmatch(TAG_PATTERN, tag):
                raise ValueError(
                    f"tag {tag!r} must be 1-64 letters, digits or _.:- (starting with one "
                    "letter or digit)"
                )
        return sorted(set(tags))

    @field_validator("content")
    @classmethod
    def _content(cls, content: dict[str, Any] | None) -> dict[str, Any] | None:
        exact_json(content)
        return content

    @model_validator(mode="after")
    def _one_body(self) -> TraceBody:
        if (self.text is None) == (self.content is None):
            raise ValueError("give exactly one of text or content")
        return self

    def fields(self) -> dict[str, Any]:
        """The payload fields this body contributes, with its content hash."""
        out: dict[str, Any] = {"tags": self.tags, "content_hash": self.content_hash()}
        if self.text is not None:
            out["text"] = self.text
        else:
            out["content"] = self.content
        return out

    def content_hash(self) -> str:
        """sha256 of the text or content (tags aside): equal content, equal hash."""
        body = {"text": self.text} if self.text is not None else {"content": self.content}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Retirement(Input):
    """Why a trace is retired."""

    reason: str | None = Field(default=None, max_length=1024)


class TraceHead(TypedDict):
    """A trace after its latest record: what `trace get` shows and the `traces` row holds."""

    uid: str
    text: str | None
    content: dict[str, Any] | None
    predecessor: str | None  # the trace it revised
    successor: str | None  # the trace it was revised into
    retired: bool
    retired_reason: str | None
    replays: int
    created_seq: int
    created_at: str
    rev: int
    updated_seq: int
    updated_at: str
    # every body has them; a record written around validation may not
    tags: NotRequired[list[str]]
    content_hash: NotRequired[str]
