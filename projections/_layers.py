"""A table as layers: the rows of each, minus those a later layer overrides by key.

A checkpoint holds each table as one or more layers, oldest first. The first is the table
as it stood when it was last written whole; each later one holds the rows the records
after it set (or, in a log table, appended) and, in a keyed table, every key those
records set or removed. A row of a layer counts unless a later layer lists its key, so::

    table = L0 - keys(L1..Ln)  +  L1 - keys(L2..Ln)  +  ...  +  Ln

The records after the last checkpoint (the tail) are one more layer on top, which is how
the read models have always been served. A new checkpoint shares the layers of the one
before it (hard links: no bytes written) and writes only a layer for its tail, so its cost
follows the change, not the table (tools/bench/projection_bench.py row E). Layers merge
as a log-structured merge tree's runs do (`plan`): the newest ones into one whenever the
one below is not much bigger than what is above it, so a table has O(log(rows / change))
layers and a row is rewritten O(log) times over its life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from projections._table import quote

GROWTH = 4  # a layer merges with the ones above it unless it holds GROWTH times their rows
MAX_LAYERS = 12  # beyond this many, the newest merge whatever their sizes


@dataclass(frozen=True)
class Layer:
    """Some of a table's rows, where they are read from, and the keys they override.

    `rows` and `keys` are DuckDB FROM items (a Parquet file read, or a table); `keys` has
    one column, ``key``, and is None for a log table's layer and for the first layer.
    `count` is how many rows `rows` holds.
    """

    rows: str
    keys: str | None
    count: int


def layered(layers: Sequence[Layer], key: str | None) -> str:
    """A SELECT of the table the layers make: each one's rows less those a later one keys."""
    selects = []
    for at, layer in enumerate(layers):
        later = [above.keys for above in layers[at + 1 :] if above.keys is not None]
        if key is None or not later:
            selects.append(f"SELECT * FROM {layer.rows}")
            continue
        keys = " UNION ALL ".join(f"SELECT key FROM {item}" for item in later)
        selects.append(
            f"SELECT b.* FROM {layer.rows} b ANTI JOIN ({keys}) t ON b.{quote(key)} = t.key"
        )
    return " UNION ALL ".join(selects)


def merged_keys(layers: Sequence[Layer]) -> str | None:
    """A FROM item of every key the layers override, each once (None if none has keys)."""
    items = [layer.keys for layer in layers if layer.keys is not None]
    if not items:
        return None
    return "(" + " UNION ".join(f"SELECT key FROM {item}" for item in items) + ")"


def plan(counts: Sequence[int], new: int) -> int:
    """How many of the existing layers (row counts `counts`, oldest first) the new layer of
    `new` rows merges with: 0 keeps them all and adds it on top; len(counts) writes the
    table whole again."""
    merged, above = 0, new
    while merged < len(counts):
        below = counts[len(counts) - 1 - merged]
        if below > GROWTH * above and len(counts) - merged + 1 <= MAX_LAYERS:
            break
        merged += 1
        above += below
    return merged
