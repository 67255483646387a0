"""Dataset names: each one becomes a SQL view name, so it must be a plain identifier."""

from __future__ import annotations

import re

from lakehouse._errors import InvalidInput

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
NAME_HINT = "use 1-63 letters, digits or underscores, not starting with a digit (e.g. staff_2024)"

# the read models every store has, each a view under this very name
READ_MODEL_NAMES = frozenset(
    {
        "datasets",
        "journal",
        "playbook_search",
        "playbooks",
        "session_attempts",
        "sessions",
        "trace_revisions",
        "trace_search",
        "traces",
    }
)
# the reserved words of PostgreSQL's grammar, which DuckDB's parser descends from, plus
# DuckDB's own: a view with such a name would need quoting in every query
SQL_RESERVED = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate column
    constraint create current_catalog current_date current_role current_time
    current_timestamp current_user default deferrable desc describe distinct do else end
    except false fetch for foreign from grant group having in initially intersect into
    lateral leading limit localtime localtimestamp not null offset on only or order pivot
    pivot_longer pivot_wider placing primary qualify references returning select
    session_user show some summarize symmetric table then to trailing true union unique
    unpivot user using variadic when where window with
    """.split()  # noqa: SIM905 - ninety words read better as text than as a list
)
RESERVED_NAMES = READ_MODEL_NAMES | SQL_RESERVED


def validate_dataset_name(name: str) -> str:
    """Return `name` if it can be a dataset (and SQL view) name, else raise InvalidInput."""
    # fullmatch, not match with `$`: `$` also matches before a trailing newline
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInput(
            f"dataset name {name!r} is not a plain identifier", hint=NAME_HINT, field="name"
        )
    if name.lower() in READ_MODEL_NAMES:
        raise InvalidInput(
            f"dataset name {name!r} is taken by a built-in read model",
            hint=f"pick another name, e.g. {name.lower()}_data",
            field="name",
        )
    if name.lower() in SQL_RESERVED:
        raise InvalidInput(
            f"dataset name {name!r} is a reserved SQL word",
            hint=f"pick another name, e.g. {name.lower()}_data",
            field="name",
        )
    return name
