"""Numbers a CSV's DOUBLE or FLOAT column would not hold as written: refused, never stored.

DuckDB reads ``1e400`` in a DOUBLE column as infinity and an integer of more digits than a
double holds (``123456789012345678901``, next to a ``4.5``) as the nearest double; both
would store a value other than the file's without a word. The cheap tests run on every
batch (an infinity; an integral magnitude of 2**53 or more), and only when one finds
something is the column's text read again to tell (an explicit ``inf`` or ``-Infinity``
is kept, as DuckDB reads it, and so is an integer the double holds exactly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse.catalog._inputs import Input, refuse
from projections import quote

if TYPE_CHECKING:
    import pyarrow as pa

HINT = "give the column a type with --column {name}=VARCHAR (keeps the text)"
EXACT_INTEGERS = 2**53  # every integer below this a double holds exactly
INTEGER_TEXT = r"[+-]?[0-9]+"
CANDIDATES = 10_000  # integer texts of 16 digits or more checked at most, per column


class NumberCheck:
    """Checks each batch's float columns against their text (`text_sql` reads it as VARCHAR)."""

    def __init__(
        self, con: Any, given: Input, text_sql: str, floats: dict[str, str], typed: set[str]
    ) -> None:
        self.con, self.given, self.text_sql = con, given, text_sql
        self.infinite = dict(floats)  # columns whose infinities are not checked yet
        # a column given DOUBLE by --column may round: the caller chose the type
        self.inexact = {name: kind for name, kind in floats.items() if kind == "DOUBLE"}
        self.inexact = {name: kind for name, kind in self.inexact.items() if name not in typed}

    def check(self, batch: pa.RecordBatch) -> None:
        """Raise InvalidInput if `batch` holds a number its column's text does not say."""
        import pyarrow.compute as pc

        for name, kind in list(self.infinite.items()):
            if pc.any(pc.is_inf(batch.column(name))).as_py():
                self._infinity(name, kind)
                del self.infinite[name]  # the whole file's column is checked now
        for name in list(self.inexact):
            column = batch.column(name)
            big = pc.greater_equal(pc.abs(column), float(EXACT_INTEGERS))
            if pc.any(pc.and_(big, pc.is_finite(column))).as_py():
                self._inexact(name)
                del self.inexact[name]

    def _first(self, name: str, where: str, limit: int = 1) -> list[str]:
        column = quote(name)
        sql = f"SELECT {column} FROM {self.text_sql} WHERE {where.format(c=column)} LIMIT {limit}"
        with self.con.cursor() as cursor:
            return [str(row[0]) for row in cursor.execute(sql).fetchall()]

    def _infinity(self, name: str, kind: str) -> None:
        where = (
            f"isinf(TRY_CAST({{c}} AS {kind})) "
            "AND NOT regexp_full_match(trim({c}), '(?i)[+-]?inf(inity)?')"
        )
        for text in self._first(name, where):
            raise self._refused(
                name, text, f"beyond what a {kind} holds (it would be stored as infinity)"
            )

    def _inexact(self, name: str) -> None:
        where = f"regexp_full_match(trim({{c}}), '{INTEGER_TEXT}') AND length(trim({{c}})) >= 16"
        for text in self._first(name, where, CANDIDATES):
            if int(text) != int(float(text)):
                stored = f"{float(text):.17g}"
                raise self._refused(
                    name, text, f"an integer a DOUBLE cannot hold exactly (it would be {stored})"
                )

    def _refused(self, name: str, text: str, why: str) -> Exception:
        shown = self.given.shown
        return refuse(
            shown,
            f"{shown}: column {name!r} holds {text!r}, {why}",
            HINT.format(name=name),
            column=name,
            value=text,
        )
