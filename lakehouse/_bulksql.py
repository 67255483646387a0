"""SQL the families' bulk folds share (lakehouse/<family>/_bulk.py): checks of JSON values.

Each returns a condition, true where a payload value is one the family's Python
projection would refuse (a dead letter) for a column of that type, so the record is a
refusal (see `lakehouse._family.Bulk`). `j` is a JSON expression, `path` a JSONPath.
"""

from __future__ import annotations


def not_text(j: str, path: str) -> str:
    """The value at `path` is there and neither a string nor null (a VARCHAR column)."""
    return f"coalesce(json_type({j}, '{path}'), 'NULL') NOT IN ('VARCHAR', 'NULL')"


def not_bigint(j: str, path: str) -> str:
    """The value is there and not null nor an integer within BIGINT (a bool is refused).

    DuckDB types a JSON integer above zero UBIGINT, whatever its size."""
    kind = f"coalesce(json_type({j}, '{path}'), 'NULL')"
    return (
        f"({kind} NOT IN ('BIGINT', 'UBIGINT', 'NULL') OR ({kind} = 'UBIGINT' AND "
        f"CAST(json_extract({j}, '{path}') AS UBIGINT) > {2**63 - 1}))"
    )


def not_boolean(j: str, path: str) -> str:
    """The value is there and neither true, false nor null."""
    return f"coalesce(json_type({j}, '{path}'), 'NULL') NOT IN ('BOOLEAN', 'NULL')"


def not_texts(j: str, path: str) -> str:
    """The value is a list holding an item that is neither a string nor null: a list
    column (`text_list`) refuses it; any other value is taken as no list at all."""
    return (
        f"(json_type({j}, '{path}') = 'ARRAY' AND len(list_filter("
        f"CAST(json_extract({j}, '{path}') AS JSON[]), lambda x: json_type(x) <> 'VARCHAR')) > 0)"
    )


def text_list(j: str) -> str:
    """A JSON value as a list column: the list of strings it is, else NULL (`text_list`)."""
    return f"CASE WHEN json_type({j}) = 'ARRAY' THEN CAST({j} AS VARCHAR[]) END"


def boolean(j: str, path: str) -> str:
    """A JSON boolean as BOOLEAN (null or absent: NULL)."""
    return (
        f"CASE json_type({j}, '{path}') WHEN 'BOOLEAN' "
        f"THEN json_extract_string({j}, '{path}') = 'true' END"
    )


def epoch(fresh: str) -> str:
    """How many records starting an entity afresh (`fresh`) came up to this one: 0 means
    the record is about an entity no record created."""
    return f"sum(({fresh})::INTEGER) OVER (PARTITION BY id ORDER BY seq)"
