"""Content negotiation: which of the media types a route gives its Accept header takes.

A route offers its types, its default first. No Accept header (or an empty one) takes the
default; otherwise the type with the highest q wins, ties going to the one the header
names first, then to the route's order (so `*/*` is the default). A header that takes
none of them (`text/html`, or `application/json;q=0`) is a 406 envelope, never an answer
in a format the client said it cannot read (tests/server/test_clients.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from fastapi import Request

from lakehouse.httpkit._errors import FormatUnsupported

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
_SHOWN = 200  # characters of an Accept header an error repeats


def choose(accept: str, offered: Sequence[str]) -> str:
    """The one of `offered` that `accept` takes best; FormatUnsupported if none."""
    ranges = _ranges(accept)
    if not ranges:
        return offered[0]
    best: tuple[float, int, int] | None = None
    chosen = None
    for order, media in enumerate(offered):
        found = _match(media, ranges)
        if found is None or found[0] <= 0:
            continue
        rank = (found[0], -found[1], -order)
        if best is None or rank > best:
            best, chosen = rank, media
    if chosen is None:
        shown = accept if len(accept) <= _SHOWN else accept[:_SHOWN] + "..."
        raise FormatUnsupported(
            f"this route answers in {' or '.join(offered)}, which Accept: {shown} refuses",
            hint=f"send Accept: {offered[0]} (or */*), or no Accept header",
            accept=shown,
            offered=list(offered),
        )
    return chosen


def accepts(*offered: str) -> Callable[[Request], None]:
    """A route dependency: 406 unless the request's Accept header takes one of `offered`."""

    def check(request: Request) -> None:
        choose(request.headers.get("accept", ""), offered)

    return check


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    """The header's media ranges as (type, subtype, q), in the header's order."""
    ranges = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub:
            continue  # not a media range: ignored, as a missing header would be
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = math.nan
                q = 0.0 if math.isnan(q) else min(max(q, 0.0), 1.0)  # unreadable: takes none
        ranges.append((kind, sub, q))
    return ranges


def _match(media: str, ranges: list[tuple[str, str, float]]) -> tuple[float, int] | None:
    """The q the most specific range matching `media` gives it, and that range's place."""
    kind, _, sub = media.partition("/")
    found: tuple[int, float, int] | None = None  # (specificity, q, position)
    for position, (want_kind, want_sub, q) in enumerate(ranges):
        if want_kind == kind and want_sub == sub:
            specificity = 2
        elif want_kind == kind and want_sub == "*":
            specificity = 1
        elif want_kind == "*" and want_sub == "*":
            specificity = 0
        else:
            continue
        if found is None or specificity > found[0]:
            found = (specificity, q, position)
    return None if found is None else (found[1], found[2])
