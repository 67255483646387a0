"""`Table.check` takes a row exactly when Arrow would hold it unchanged.

The check runs while a record is applied, so that a value its column cannot hold goes to
the projection's policy for that record alone; found later, by the Arrow conversion, it
failed every read (an int beyond BIGINT raised OverflowError). So: a row the check takes
converts and comes back equal, and a row that converts and comes back the same (value and
type) is one the check takes. Where Arrow would convert (True to 1, 5 to 5.0 in a
VARCHAR[]...) the check may refuse: a projection's values are never changed silently.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import Column, Table, TableChanges

TYPES = ("VARCHAR", "BIGINT", "BOOLEAN", "DOUBLE", "VARCHAR[]")
EDGES = [2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64, 2**53, 2**53 + 1, -(2**53) - 1]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(EDGES),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=3),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=2), SCALARS, max_size=2),
)


def _arrow(table: Table, value: Any) -> list[Any] | None:
    """The value back from Arrow in its column, or None if Arrow refuses it."""
    try:
        return table.to_arrow([(value,)]).column(0).to_pylist()
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return None


def _same(got: Any, want: Any) -> bool:
    nan = (
        isinstance(got, float) and isinstance(want, float) and math.isnan(got) and math.isnan(want)
    )
    return nan or got == want


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(TYPES), value=VALUES)
def test_check_takes_what_arrow_holds_unchanged(kind: str, value: Any) -> None:
    table = Table("t", (Column("c", kind),))
    try:
        table.check((value,))
        taken = True
    except ValueError as error:
        assert str(error).startswith(f"table t: column c ({kind}) cannot hold ")
        taken = False
    back = _arrow(table, value)
    if taken:
        assert back is not None and _same(back[0], value)
    elif back is not None and _same(back[0], value):
        # Arrow kept the value but may have changed its type: that the check refuses
        assert type(back[0]) is not type(value) or (
            type(value) is list
            and any(type(a) is not type(b) for a, b in zip(back[0], value, strict=True))
        )


def test_put_and_append_refuse_a_row_before_keeping_it() -> None:
    keyed = TableChanges(Table("k", (Column("id", "VARCHAR"), Column("n", "BIGINT")), key="id"))
    keyed.put(("a", 1))
    with pytest.raises(ValueError, match=r"column n \(BIGINT\) cannot hold 9223372036854775808"):
        keyed.put(("a", 2**63))
    with pytest.raises(ValueError, match="a row of 1 values for 2 columns"):
        keyed.put(("a",))
    assert keyed.rows() == [("a", 1)]  # the row before the refused one stays
    log = TableChanges(Table("l", (Column("tags", "VARCHAR[]"),)))
    with pytest.raises(ValueError, match=r"column tags \(VARCHAR\[\]\) cannot hold \[1\]"):
        log.append(([1],))
    assert log.rows() == []


def test_row_builds_the_tuple_in_column_order_by_name() -> None:
    table = Table("t", (Column("id", "VARCHAR"), Column("n", "BIGINT"), Column("ok", "BOOLEAN")))
    assert table.row(ok=True, id="a", n=1) == ("a", 1, True)
    assert table.row(n=None, ok=None, id=None) == (None, None, None)  # values are not checked
    assert Table("empty", ()).row() == ()


def test_row_refuses_a_missing_or_unknown_column_naming_it_and_the_table() -> None:
    table = Table("t", (Column("id", "VARCHAR"), Column("n", "BIGINT")))
    with pytest.raises(TypeError, match=r"Table\('t'\)\.row\(\) missing .* argument: 'n'"):
        table.row(id="a")
    with pytest.raises(TypeError, match=r"Table\('t'\)\.row\(\) .* unexpected .* argument 'm'"):
        table.row(id="a", n=1, m=2)
    with pytest.raises(TypeError, match=r"Table\('t'\)\.row\(\) takes 0 positional"):
        table.row("a", 1)


@pytest.mark.parametrize("name", ["two words", "class", "1st"])
def test_row_refuses_a_column_name_that_cannot_be_a_keyword(name: str) -> None:
    table = Table("t", (Column(name, "VARCHAR"),))
    with pytest.raises(ValueError, match="cannot be a keyword argument"):
        table.row()
    table.check(("a",))  # the table itself still works, rows given as tuples
