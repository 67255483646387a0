"""Arrow arrays as JSON values: every type DuckDB returns, lossless, by one set of rules.

`converter(type, text=...)` gives a function from an Arrow array of that type to a list of
JSON values (None, bool, int, float, str, list, dict); `fits(type, array)` says whether
the array's values can all be JSON numbers exactly. The rules (README, "What a value
looks like"):

- Integers up to 64 bits are numbers. The wide numbers (UBIGINT, HUGEINT, UHUGEINT,
  VARINT, DECIMAL, FLOAT, DOUBLE) are numbers when every one in the column fits: an
  integer within the int64 range, a decimal of at most 15 significant digits (a double
  holds it exactly), a float that is finite. Otherwise `text=True`: every wide number
  in the column is a string of its exact digits ("NaN", "Infinity", "-Infinity" for
  floats), and the column's type says ` as text`. A column never mixes the two.
- BLOB and BIT-like bytes: base64. DATE, TIME, TIMESTAMP: ISO 8601 text with the
  column's precision (a zone's offset for WITH TIME ZONE; "infinity" and years beyond
  1..9999 as DuckDB writes them). INTERVAL: an ISO 8601 duration whose parts keep their
  own sign, "P1M-2DT3H4.5S". UUID, ENUM, JSON, VARCHAR: strings. LIST and ARRAY: lists;
  STRUCT: objects; MAP: a list of [key, value] pairs (keys need not be strings); UNION:
  the value of its member.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from projections._errors import ValueUnsupported
from projections._times import dates, durations, intervals, times, timestamps

Convert = Callable[[pa.Array], list[Any]]
INT64 = (-(2**63), 2**63 - 1)
WIDE_TEXT = frozenset({"UHUGEINT", "BIGNUM", "VARINT"})  # arrive as DuckDB's digits
_DIGITS = 15  # significant digits a double holds exactly


def converter(kind: pa.DataType, *, text: bool = False, hint: str = "") -> Convert:
    """A function from an array of `kind` to its JSON values (`text`: wide numbers as text).

    `hint` is the column's DuckDB type: a string column that holds UHUGEINT or VARINT
    digits (Arrow has no type for them) is then a wide number too.
    """
    nested = _nested(kind, text)
    if nested is not None:
        return nested
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is(kind, "string_view"):
        return _digits(text) if hint in WIDE_TEXT else _plain
    leaf = _leaf(kind, text)
    if leaf is None:
        raise ValueUnsupported(
            f"a value of Arrow type {kind} cannot be written as JSON or text",
            hint="cast the column to VARCHAR in the query: CAST(x AS VARCHAR)",
            type=str(kind),
        )
    return leaf


def _is(kind: pa.DataType, name: str) -> bool:
    test = getattr(pa.types, f"is_{name}", None)
    return bool(test and test(kind))


def _nested(kind: pa.DataType, text: bool) -> Convert | None:  # noqa: PLR0911 - per kind
    """The converter of a nested (or wrapped) type; None for a leaf."""
    if pa.types.is_dictionary(kind):
        inner = converter(kind.value_type, text=text)
        return lambda array: inner(array.dictionary_decode())
    if isinstance(kind, pa.BaseExtensionType):
        inner = converter(kind.storage_type, text=text)
        return lambda array: inner(array.storage)
    if pa.types.is_map(kind):
        entry = pa.list_(pa.struct([kind.key_field, kind.item_field]))
        keys, items = converter(kind.key_type, text=text), converter(kind.item_type, text=text)
        return lambda array: _pairs(array.cast(entry), keys, items)
    if pa.types.is_fixed_size_list(kind) or _is(kind, "list_view") or _is(kind, "large_list_view"):
        as_list = pa.list_(kind.value_field)
        inner = converter(kind.value_type, text=text)
        return lambda array: _lists(array.cast(as_list), inner)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        inner = converter(kind.value_type, text=text)
        return lambda array: _lists(array, inner)
    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        fields = [converter(kind.field(i).type, text=text) for i in range(kind.num_fields)]
        return lambda array: _structs(array, names, fields)
    if pa.types.is_union(kind):
        if kind.mode != "sparse":
            return None  # DuckDB hands over sparse unions only
        members = [converter(kind.field(i).type, text=text) for i in range(kind.num_fields)]
        return lambda array: _unions(array, members)
    return None


def _leaf(kind: pa.DataType, text: bool) -> Convert | None:
    """The converter of a scalar type; None if there is none."""
    if pa.types.is_decimal(kind):
        if text:
            return _decimal_texts
        return _decimal_ints if kind.scale <= 0 else _decimal_floats
    if pa.types.is_floating(kind):
        return _float_texts if text else _floats
    if text and pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
        return _strings
    return next((convert for test, convert in _LEAVES if test(kind)), None)


# -- nested ------------------------------------------------------------------------------


def _lists(array: pa.Array, inner: Convert) -> list[Any]:
    # the values of the lists that are not null, in order
    return _split(inner(array.flatten()), array)


def _pairs(array: pa.Array, keys: Convert, items: Convert) -> list[Any]:
    entries = array.flatten()  # one struct per entry of the maps that are not null
    key_array, item_array = entries.flatten()
    pairs = [[k, v] for k, v in zip(keys(key_array), items(item_array), strict=True)]
    return _split(pairs, array)


def _split(values: list[Any], array: pa.Array) -> list[Any]:
    """`values` cut into the lists of `array` (a list or map array), None where it is null."""
    out: list[Any] = []
    at = 0
    for length in array.value_lengths().to_pylist():
        if length is None:
            out.append(None)
        else:
            out.append(values[at : at + length])
            at += length
    return out


def _structs(array: pa.Array, names: list[str], fields: list[Convert]) -> list[Any]:
    columns = [convert(child) for convert, child in zip(fields, array.flatten(), strict=True)]
    valid = array.is_valid().to_pylist()
    rows = zip(*columns, strict=True) if columns else iter([()] * len(array))
    return [
        dict(zip(names, row, strict=True)) if ok else None
        for ok, row in zip(valid, rows, strict=True)
    ]


def _unions(array: pa.Array, members: list[Convert]) -> list[Any]:
    values = [convert(array.field(i)) for i, convert in enumerate(members)]
    index = {code: i for i, code in enumerate(array.type.type_codes)}
    return [values[index[array[row].type_code]][row] for row in range(len(array))]


# -- numbers -----------------------------------------------------------------------------


def _plain(array: pa.Array) -> list[Any]:
    return array.to_pylist()  # type: ignore[no-any-return]


def _strings(array: pa.Array) -> list[Any]:
    return [None if v is None else str(v) for v in array.to_pylist()]


def _digits(text: bool) -> Convert:
    """DuckDB's digits of an integer (UHUGEINT, VARINT): numbers, or the text itself."""
    if text:
        return _plain
    return lambda array: [None if v is None else int(v) for v in array.to_pylist()]


def _floats(array: pa.Array) -> list[Any]:
    if array.type == pa.float64():
        return array.to_pylist()  # type: ignore[no-any-return]
    # a FLOAT as its shortest text (0.1, not 0.10000000149011612), which reads back as it
    return [None if v is None else float(v) for v in array.cast(pa.string()).to_pylist()]


def _float_texts(array: pa.Array) -> list[Any]:
    if array.type != pa.float64():
        texts = array.cast(pa.string()).to_pylist()
        return [None if v is None else float_text(float(v), v) for v in texts]
    return [None if v is None else float_text(v) for v in array.to_pylist()]


def float_text(value: float, shortest: str | None = None) -> str:
    """A float as text that reads back as it: 'NaN', 'Infinity', '-Infinity' or its digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return shortest if shortest is not None else repr(value)


def _decimal_ints(array: pa.Array) -> list[Any]:
    return [None if v is None else int(v) for v in array.to_pylist()]


def _decimal_floats(array: pa.Array) -> list[Any]:
    return [None if v is None else float(v) for v in array.to_pylist()]


def _decimal_texts(array: pa.Array) -> list[Any]:
    return [None if v is None else format(v, "f") for v in array.to_pylist()]


def fits(  # noqa: PLR0911 - a return per kind of type
    kind: pa.DataType, array: pa.Array | pa.ChunkedArray, hint: str = ""
) -> bool:
    """True if every wide number in `array` (at any depth) can be a JSON number exactly."""
    if isinstance(array, pa.ChunkedArray):
        return all(fits(kind, chunk, hint) for chunk in array.chunks)
    if len(array) == 0:
        return True
    parts = _parts(kind, array)
    if parts is not None:
        return all(fits(part.type, part) for part in parts)
    if hint in WIDE_TEXT and pa.types.is_string(kind):
        return all(v is None or INT64[0] <= int(v) <= INT64[1] for v in array.to_pylist())
    if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
        return _at_most(pc.max(array), INT64[1])
    if pa.types.is_floating(kind):
        return pc.all(pc.is_finite(array)).as_py() is not False
    if pa.types.is_decimal(kind):
        return _decimals_fit(kind, array)
    return True


def _parts(kind: pa.DataType, array: pa.Array) -> list[pa.Array] | None:  # noqa: PLR0911
    """The arrays a nested array is made of (None for a leaf)."""
    if pa.types.is_dictionary(kind):
        return [array.dictionary]
    if isinstance(kind, pa.BaseExtensionType):
        return [array.storage]
    if pa.types.is_map(kind):
        return list(
            array.cast(pa.list_(pa.struct([kind.key_field, kind.item_field]))).flatten().flatten()
        )
    if pa.types.is_fixed_size_list(kind) or _is(kind, "list_view") or _is(kind, "large_list_view"):
        return [array.cast(pa.list_(kind.value_field)).flatten()]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return [array.flatten()]
    if pa.types.is_struct(kind):
        return list(array.flatten())
    if pa.types.is_union(kind):
        return [array.field(i) for i in range(kind.num_fields)]
    return None


def _at_most(scalar: pa.Scalar, limit: int) -> bool:
    value = scalar.as_py()
    return value is None or value <= limit


def _decimals_fit(kind: pa.DataType, array: pa.Array) -> bool:
    if kind.scale <= 0:
        low, high = pc.min(array).as_py(), pc.max(array).as_py()
        return low is None or (INT64[0] <= low and high <= INT64[1])
    if kind.precision <= _DIGITS:
        return True
    low, high = pc.min(array).as_py(), pc.max(array).as_py()
    if low is None or max(-low, high) < Decimal(10) ** (_DIGITS - kind.scale):
        return True  # fewer than 16 digits before the scale is even looked at
    return all(v is None or _significant(v) <= _DIGITS for v in array.to_pylist())


def _significant(value: Decimal) -> int:
    """Significant digits: 1.50 has 2, 1200 has 2, 0 has 1."""
    return max(1, len("".join(map(str, value.as_tuple().digits)).rstrip("0")))


# -- bytes ----------------------------------------------------------------------


def _base64(array: pa.Array) -> list[Any]:
    return [None if v is None else base64.b64encode(v).decode() for v in array.to_pylist()]


def _nulls(array: pa.Array) -> list[Any]:
    return [None] * len(array)


def _is_bytes(kind: pa.DataType) -> bool:
    types = pa.types
    return bool(
        types.is_binary(kind)
        or types.is_large_binary(kind)
        or types.is_fixed_size_binary(kind)
        or _is(kind, "binary_view")
    )


# the scalar types whose values are written the same whatever the column's numbers
_LEAVES: list[tuple[Callable[[pa.DataType], bool], Convert]] = [
    (pa.types.is_null, _nulls),
    (pa.types.is_boolean, _plain),
    (pa.types.is_integer, _plain),
    (_is_bytes, _base64),
    (pa.types.is_date, dates),
    (pa.types.is_timestamp, timestamps),
    (pa.types.is_time, times),
    (pa.types.is_interval, intervals),
    (pa.types.is_duration, durations),
]
