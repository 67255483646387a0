"""Diffing one read-model table against another: which rows, which entities, which seq.

Two tables are compared by `ReadModels.digest` (a hash over every row, independent of
row order) first, which costs one scan in DuckDB; only a table whose digests differ is
compared row by row. Rows are matched by the table's key (a log table's rows by their
sort columns), as multisets of row hashes, so a duplicated row counts too.

For each differing row the seq is the one the expected row carries (the record that last
set it: ``updated_seq``, else ``seq``, else ``created_seq``), or the other side's when the
row is extra. A table without a seq column (a search table) takes the seq of the last
record about the row's entity from the expected `journal` table. The first divergent seq
is the smallest of these; the entities are the differing rows' ids in seq order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from projections import ReadModels, Table, quote

SEQ_COLUMNS = ("updated_seq", "seq", "created_seq")
MAX_ENTITIES = 20  # entity ids a finding lists; the count says how many differ in all
_Row = tuple[int, int | None, str | None]  # (row hash, seq, entity)


@dataclass
class TableDiff:
    """How a table differs from the expected one: row counts, first seq, entities."""

    table: str
    missing: int = 0  # rows expected and not there
    extra: int = 0  # rows there and not expected
    changed: int = 0  # rows under an expected key whose content differs
    first_seq: int | None = None
    entities: list[str] = field(default_factory=list)
    entity_count: int = 0

    @property
    def rows(self) -> int:
        """Differing rows (keys) in all."""
        return self.missing + self.extra + self.changed

    def describe(self) -> str:
        """E.g. ``3 rows differ (1 missing, 0 extra, 2 changed)``."""
        differ = "1 row differs" if self.rows == 1 else f"{self.rows} rows differ"
        return f"{differ} ({self.missing} missing, {self.extra} extra, {self.changed} changed)"


def diff_table(want: ReadModels, got: ReadModels, table: Table) -> TableDiff | None:
    """How `got`'s table differs from `want`'s, or None if they hold the same rows."""
    name = table.name
    if want.digest(name) == got.digest(name):
        return None
    mine, theirs = _rows(want, table), _rows(got, table)
    diff = TableDiff(name)
    found: list[tuple[int | None, str | None]] = []
    for key in mine.keys() | theirs.keys():
        expected, actual = mine.get(key, []), theirs.get(key, [])
        if sorted(row[0] for row in expected) == sorted(row[0] for row in actual):
            continue
        if not actual:
            diff.missing += 1
        elif not expected:
            diff.extra += 1
        else:
            diff.changed += 1
        rows = expected or actual
        seqs = [row[1] for row in rows if row[1] is not None]
        found.append((min(seqs) if seqs else None, rows[0][2]))
    found = _fill_seqs(want, found)
    seqs = [seq for seq, _ in found if seq is not None]
    diff.first_seq = min(seqs) if seqs else None
    ordered: list[str] = []
    for _, entity in sorted(found, key=lambda item: (item[0] is None, item[0] or 0)):
        if entity is not None and entity not in ordered:
            ordered.append(entity)
    diff.entities, diff.entity_count = ordered[:MAX_ENTITIES], len(ordered)
    return diff


def _rows(models: ReadModels, table: Table) -> dict[tuple[Any, ...], list[_Row]]:
    """Each row's (hash, seq, entity) under its key."""
    names = [column.name for column in table.columns]
    key = [table.key] if table.key else list(table.sort) or names
    seq = next((column for column in SEQ_COLUMNS if column in names), None)
    entity = table.key or next((c for c in names if c == "id" or c.endswith("id")), None)
    select = ", ".join(
        [
            *(quote(column) for column in key),
            "hash(t)",
            quote(seq) if seq else "NULL",
            f"{quote(entity)}::VARCHAR" if entity else "NULL",
        ]
    )
    out: dict[tuple[Any, ...], list[_Row]] = {}
    width = len(key)
    for row in models.query(f"SELECT {select} FROM {quote(table.name)} t"):
        out.setdefault(tuple(row[:width]), []).append((row[width], row[width + 1], row[-1]))
    return out


def _fill_seqs(
    want: ReadModels, found: list[tuple[int | None, str | None]]
) -> list[tuple[int | None, str | None]]:
    """Rows without a seq take the seq of the last record about their entity."""
    missing = sorted({entity for seq, entity in found if seq is None and entity is not None})
    if not missing or "journal" not in want.tables:
        return found
    marks = ", ".join("?" for _ in missing)
    last = dict(
        want.query(f"SELECT id, max(seq) FROM journal WHERE id IN ({marks}) GROUP BY id", missing)
    )
    return [(seq if seq is not None else last.get(entity), entity) for seq, entity in found]
