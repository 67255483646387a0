"""Rows as text: a JSON value as a table cell or a CSV field, and names made unique.

Pure Python (no pyarrow), so the list verbs of the CLI, which print rows of JSON values
they already hold, share these with `lakehouse sql` without loading anything heavy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

CELL_WIDTH = 60  # a table cell longer than this is cut, ending in "..."


def cell_text(value: Any) -> str:
    """A JSON value as text: strings as they are, null empty, the rest as JSON writes it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def csv_field(value: Any, *, quoted: bool) -> str:
    """One CSV field: null is empty and bare; `quoted` fields are in double quotes."""
    if value is None:
        return ""
    text = cell_text(value)
    return '"' + text.replace('"', '""') + '"' if quoted else text


def csv_line(values: Iterable[Any], quoted: Sequence[bool]) -> str:
    """One CSV line (RFC 4180 quoting, no line end)."""
    return ",".join(csv_field(v, quoted=q) for v, q in zip(values, quoted, strict=True))


def bare(value: Any) -> bool:
    """Whether a value goes into CSV unquoted: numbers and booleans (as pyarrow writes them)."""
    return isinstance(value, int | float) and not isinstance(value, str)


def unique_names(names: Sequence[str]) -> list[str]:
    """The names, each repeat renamed `name_1`, `name_2`, ...: the keys of a JSON object.

    A name taken by another column is skipped (`a, a, a_1` -> `a, a_2, a_1`), so every
    name that was unique stays as it was.
    """
    taken = set(names)
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
            continue
        number = 1
        while f"{name}_{number}" in taken:
            number += 1
        renamed = f"{name}_{number}"
        taken.add(renamed)
        out.append(renamed)
    return out


def table_text(names: Sequence[str], cells: Iterable[Sequence[str]], *, empty: str) -> str:
    """Rows of text as an aligned table with a header line (cells cut at CELL_WIDTH).

    No line ends in padding: the last column is not filled out to its width.
    """
    lines = [[_cut(cell) for cell in row] for row in cells]
    if not lines:
        return empty + "\n"
    widths = [max(len(name), *(len(line[i]) for line in lines)) for i, name in enumerate(names)]
    out = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(names), *lines]
    ]
    return "\n".join(out) + "\n"


def _cut(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 3] + "..."
