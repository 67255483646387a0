"""Helpers for the journal's edge-case and fault tests: where each record lies on disk.

Byte spans are found from the file sizes before and after each write and from the
framing alone (``\\n`` + JSON + ``\\n``; orjson never writes a raw newline inside a
record), never with the engine's own parser, so the tests can judge the parser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from journal import Draft, Journal, Record

# strings that trip line splitters and naive framing: U+2028/U+2029/U+0085 are line
# breaks to str.splitlines, "\\n" is an escaped newline, and a real one is escaped by JSON
HOSTILE: dict[str, Any] = {
    "seps": "a\u2028b\u2029c\u0085d",
    "escaped": 'quote "\\n" and \\n and \\\\n',
    "real": "cr\r lf\n crlf\r\n nul\x00",
    "emoji": "😀👍🏽",
}


@dataclass(frozen=True)
class Span:
    """One record's JSON bytes [start, end) in its segment (framing newlines excluded)."""

    seq: int
    start: int
    end: int
    batch_end: int | None


def segment_files(store: Path) -> list[Path]:
    """The store's segment files, oldest first."""
    return sorted((store / "journal" / "segments").iterdir())


def sizes(store: Path) -> dict[str, int]:
    """The size of every file under journal/ (segments and meta.json), by relative path."""
    journal = store / "journal"
    return {
        str(path.relative_to(journal)): path.stat().st_size
        for path in journal.rglob("*")
        if path.is_file()
    }


def spans_in(data: bytes, start: int, end: int) -> list[Span]:
    """The records that one write put at data[start:end], found by their framing alone."""
    region = data[start:end]
    assert region.startswith(b"\n") and region.endswith(b"\n"), region[:40]
    spans = []
    at = start
    for piece in region.split(b"\n"):
        if piece:
            fields = orjson.loads(piece)
            batch = fields.get("batch")
            spans.append(Span(fields["seq"], at, at + len(piece), batch[1] if batch else None))
        at += len(piece) + 1
    return spans


class Tracker:
    """Appends through a Journal and remembers the span of every record it wrote."""

    def __init__(self, journal: Journal, store: Path) -> None:
        self.journal = journal
        self.store = store
        self.spans: dict[int, tuple[Path, Span]] = {}
        for path in segment_files(store):
            data = path.read_bytes()
            if data:
                for span in spans_in(data, 0, len(data)):
                    self.spans[span.seq] = (path, span)

    def write(self, drafts: Sequence[Draft]) -> list[Record]:
        """One append (one draft) or one batch (several); spans are recorded."""
        before = sizes(self.store)
        if len(drafts) == 1:
            kind, entity, id_, payload, rev, v = drafts[0]
            records = [
                self.journal.append(kind=kind, entity=entity, id=id_, payload=payload, rev=rev, v=v)
            ]
        else:
            records = self.journal.append_many(drafts)
        path = segment_files(self.store)[-1]
        data = path.read_bytes()
        start = before.get(f"segments/{path.name}", 0)
        spans = spans_in(data, start, len(data))
        assert [span.seq for span in spans] == [record.seq for record in records]
        for span in spans:
            self.spans[span.seq] = (path, span)
        return records


def draft(name: str, **payload: Any) -> Draft:
    """A test record of kind t.added for entity t."""
    return Draft("t.added", "t", name, payload)


def same(a: Any, b: Any) -> bool:
    """Exact JSON equality: same types (1 is not 1.0 nor True), key order, and sign of 0.0."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)
