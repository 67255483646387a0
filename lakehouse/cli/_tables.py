"""`lakehouse tables`: the read models and the datasets, with their columns."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli._opening import open_store
from lakehouse.clikit import (
    SEQ,
    chosen_format,
    examples,
    format_option,
    json_option,
    print_rows,
)

if TYPE_CHECKING:
    from lakehouse._store import Store

# the main schema is what a query sees; the tables behind the views (the tails of the
# read models) live in a schema of their own and are not listed (projections/_projection.py)
_COLUMNS = """
SELECT c.table_name, list({'name': c.column_name, 'type': c.data_type}
                          ORDER BY c.ordinal_position)
FROM information_schema.columns c
WHERE c.table_schema = 'main'
GROUP BY ALL
ORDER BY c.table_name
"""


@click.command("tables")
@click.option("--as-of-seq", type=SEQ, metavar="N", help="The tables as they were at seq N.")
@format_option()
@json_option
@examples("""
lakehouse tables
lakehouse tables --format json | jq '.rows[] | .name'
""")
def tables(as_of_seq: int | None) -> None:
    """List what SQL can read: each read model and dataset, with its columns and types."""
    with open_store() as store:
        rows = list_tables(store, as_of=as_of_seq)
    if chosen_format() != "table":
        print_rows(rows, ["name", "kind", "columns"], empty="no tables")
        return
    for row in rows:
        columns = ", ".join(f"{column['name']} {column['type']}" for column in row["columns"])
        click.echo(f"{row['name']}  ({row['kind']}, {len(row['columns'])} columns)")
        click.echo(textwrap.fill(columns, 96, initial_indent="  ", subsequent_indent="  "))


def list_tables(store: Store, *, as_of: int | None = None) -> list[dict[str, Any]]:
    """Every table and view a query can name: name, kind (read model or dataset), columns."""
    import duckdb

    models = store.read_models(as_of=as_of)
    try:
        found = models.query(_COLUMNS)
        try:
            live = models.query("SELECT name FROM datasets WHERE NOT dropped")
        except duckdb.Error:  # the catalog's projection stopped: its view says why
            live = []
    finally:
        models.close()
    datasets = {name for (name,) in live}
    return [
        {"name": name, "kind": "dataset" if name in datasets else "read model", "columns": columns}
        for name, columns in found
    ]
