"""`lakehouse dataset ...`: the catalog family on the command line.

pyarrow is imported only when a verb reads or writes data, never when this module loads.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from lakehouse.cli._common import IntRange, emit, examples, json_option
from lakehouse.cli._mutation import (
    mutation_options,
    open_store,
    print_head,
    print_outcome,
    print_rows,
)
from lakehouse.cli._output import chosen_format, format_option, print_result

if TYPE_CHECKING:
    from collections.abc import Callable


@click.group("dataset", context_settings={"help_option_names": ["-h", "--help"]})
def dataset_group() -> None:
    """Datasets: CSV or Parquet files kept as content-addressed Parquet objects."""


_REPLACE_HELP = "Replace a dataset whose schema fingerprint differs (else exit 4)."


@dataset_group.command("ingest")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help=_REPLACE_HELP)
@mutation_options
@json_option
@examples("""
lakehouse dataset ingest staff staff.csv
lakehouse dataset ingest staff staff_v2.csv --replace --json
""")
def ingest(
    *, name: str, file: str, replace: bool, if_rev: int | None, idempotency_key: str | None
) -> None:
    """Ingest a CSV or Parquet file as dataset NAME and print its rev and seq."""
    with open_store() as store:
        outcome = store.datasets.ingest(
            name,
            file,
            replace=replace,
            if_rev=if_rev,
            idempotency_key=idempotency_key,
            progress=_progress(file),
        )
    print_outcome(outcome)


@dataset_group.command("register")
@click.argument("name")
@click.option("--path", "path", required=True, metavar="FILE.parquet", help="A Parquet file.")
@click.option("--replace", is_flag=True, help=_REPLACE_HELP)
@mutation_options
@json_option
@examples("""
lakehouse dataset register scores --path scores.parquet
""")
def register(
    *, name: str, path: str, replace: bool, if_rev: int | None, idempotency_key: str | None
) -> None:
    """Register a Parquet file as dataset NAME (it is copied into the store)."""
    with open_store() as store:
        outcome = store.datasets.register(
            name,
            path,
            replace=replace,
            if_rev=if_rev,
            idempotency_key=idempotency_key,
            progress=_progress(path),
        )
    print_outcome(outcome)


@dataset_group.command("drop")
@click.argument("name")
@mutation_options
@json_option
@examples("""
lakehouse dataset drop staff --if-rev 2
""")
def drop(*, name: str, if_rev: int | None, idempotency_key: str | None) -> None:
    """Drop dataset NAME: gone from lists and SQL; its history and objects stay."""
    with open_store() as store:
        outcome = store.datasets.drop(name, if_rev=if_rev, idempotency_key=idempotency_key)
    print_outcome(outcome)


@dataset_group.command("list")
@format_option()
@json_option
@examples("""
lakehouse dataset list
lakehouse dataset list --json
""")
def list_() -> None:
    """List the datasets not dropped, by name."""
    with open_store() as store:
        heads = store.datasets.list()
    rows = [{**head, "fingerprint": head["fingerprint"][:12]} for head in heads]
    print_rows(rows, ["name", "rev", "rows", "fingerprint", "seq"], empty="no datasets")


@dataset_group.command("show")
@click.argument("name")
@json_option
@examples("""
lakehouse dataset show staff
""")
def show(name: str) -> None:
    """Print dataset NAME's head: schema, files, rows, fingerprint, rev."""
    with open_store() as store:
        head = store.datasets.show(name)
    print_head(
        head,
        {
            "schema": lambda schema: ", ".join(f"{c['name']} {c['type']}" for c in schema),
            "files": lambda files: ", ".join(file["path"] for file in files),
        },
    )


def _progress(file: str) -> Callable[[int, int], None] | None:
    """A progress reporter on stderr when it is a terminal, else None (quiet when piped)."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        # one line redrawn in place; the final call (done == total) ends it
        click.echo(f"\ringesting {file}: {percent}%", err=True, nl=done >= total)

    return report


# -- head and export (reads: pyarrow and duckdb are imported by the functions they call) --


@dataset_group.command("head")
@click.argument("name")
@click.option(
    "-n", "rows", type=IntRange(min=0), default=10, show_default=True, help="Rows to show."
)
@format_option(json_means="json")
@json_option
@examples("""
lakehouse dataset head staff
lakehouse dataset head staff -n 3 --format csv
""")
def head(name: str, rows: int) -> None:
    """Print the first rows of dataset NAME, as 'lakehouse sql' prints a query's."""
    from lakehouse.catalog._read import live_head
    from projections import quote

    with open_store() as store:
        live_head(store, name)  # NotFound (exit 5) if there is none, or it was dropped
        result = store.sql(f"SELECT * FROM {quote(name)} LIMIT {rows}")
    print_result(result, watermark=result.watermark or 0, fmt=chosen_format(json_means="json"))


@dataset_group.command("export")
@click.argument("name")
@click.option("--to", "to", required=True, metavar="FILE", help="FILE.parquet or FILE.csv.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists (else exit 3).")
@json_option
@examples("""
lakehouse dataset export staff --to staff.parquet
lakehouse dataset export staff --to /tmp/staff.csv --force
""")
def export(name: str, to: str, force: bool) -> None:
    """Write dataset NAME to a Parquet or CSV file outside the store, atomically."""
    from lakehouse.catalog._read import export as export_dataset

    with open_store() as store:
        done = export_dataset(store, name, to, force=force)
    emit(
        {"ok": True, **done},
        lambda: click.echo(
            f"dataset {name} rev {done['rev']}: {done['rows']:,} rows written to {to} "
            f"({done['format']})"
        ),
    )
