"""Small helpers the family projections share to turn heads into table rows."""

from __future__ import annotations

from typing import Any

import orjson

from projections import Column


def columns(*spec: str) -> tuple[Column, ...]:
    """Columns from ``"name TYPE"`` strings."""
    return tuple(Column(*item.split(" ", 1)) for item in spec)


def json_text(value: Any) -> str | None:
    """`value` as compact JSON text (None stays None): nested values live in VARCHAR."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def text_list(value: Any) -> list[str] | None:
    """A list of strings, or None when the value is not a list (the family validated its items)."""
    return value if type(value) is list else None
