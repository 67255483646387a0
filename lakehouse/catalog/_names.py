"""Dataset names: each one becomes a SQL view name, so it must be a plain identifier that
no read model, SQL keyword or DuckDB relation already takes."""

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
# DuckDB's own relations: its system views (duckdb_tables, pg_settings, sqlite_master...)
# and table functions (duckdb_settings(), pragma_version()) take these prefixes; a view of
# that name would hide the system view for every unqualified query, or be one the SQL
# guard refuses to read, or be confused with the function
DUCKDB_PREFIXES = ("duckdb_", "pg_", "pragma_", "sqlite_")
# DuckDB 2.0.1's table functions and table macros without those prefixes, the views of
# its information_schema, and its schema and database names (a test lists them from
# DuckDB itself: tests/lakehouse/catalog/test_names.py). Scalar and aggregate functions
# (sum, year, log...) live in another namespace than tables, so they stay free.
DUCKDB_NAMES = frozenset(
    """
    add_grammar_extension arrow_scan arrow_scan_dumb checkpoint create_external_resource
    deregister_external_resource destroy_external_resource disable_logging
    disable_profiling enable_logging enable_profiling force_checkpoint generate_series glob
    histogram histogram_values icu_calendar_names json_each json_execute_serialized_sql
    json_tree pandas_scan parquet_bloom_probe parquet_file_metadata parquet_full_metadata
    parquet_kv_metadata parquet_metadata parquet_page_index parquet_scan parquet_schema
    python_arrow_scan python_map_function query query_table range read_blob read_csv
    read_csv_auto read_duckdb read_json read_json_auto read_json_objects
    read_json_objects_auto read_ndjson read_ndjson_auto read_ndjson_objects read_parquet
    read_single_csv_file read_single_json_file read_single_parquet_file read_text
    register_external_resource register_external_resource_type remove_grammar_extension
    repeat repeat_row seq_scan sniff_csv summary test_all_types test_vector_types
    truncate_duckdb_logs unnest which_secret
    character_sets check_constraints columns constraint_column_usage
    constraint_table_usage key_column_usage referential_constraints schemata
    table_constraints tables views
    information_schema main memory pg_catalog system temp
    """.split()  # noqa: SIM905 - a hundred words read better as text than as a list
)
RESERVED_NAMES = READ_MODEL_NAMES | SQL_RESERVED | DUCKDB_NAMES


def check_identifier(name: str) -> str:
    """Return `name` if it is a plain identifier, the shape of every dataset name."""
    # fullmatch, not match with `$`: `$` also matches before a trailing newline
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInput(
            f"dataset name {name!r} is not a plain identifier", hint=NAME_HINT, field="name"
        )
    return name


def validate_dataset_name(name: str) -> str:
    """Return `name` if it can be a new dataset (and SQL view) name, else raise InvalidInput."""
    check_identifier(name)
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
    if name.lower() in DUCKDB_NAMES or name.lower().startswith(DUCKDB_PREFIXES):
        raise InvalidInput(
            f"dataset name {name!r} is taken by DuckDB (a system view, table function, "
            "schema or the prefix of those): a view of that name would hide it or break",
            hint=f"pick another name, e.g. my_{name.lower()}",
            field="name",
        )
    return name
