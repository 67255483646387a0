"""`lakehouse dataset ...`: the catalog family on the command line.

duckdb and pyarrow are imported only when a verb reads or writes data, never when this
module loads.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, BinaryIO

import click

from lakehouse.catalog._api import Datasets
from lakehouse.clikit import (
    IntRange,
    chosen_format,
    describe,
    emit,
    examples,
    format_option,
    json_option,
    mutation_options,
    open_store,
    print_head,
    print_outcome,
    print_result,
    print_rows,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from lakehouse._kernel import Outcome


@click.group("dataset", context_settings={"help_option_names": ["-h", "--help"]})
def dataset_group() -> None:
    """Datasets: CSV or Parquet files kept as content-addressed Parquet objects."""


_REPLACE_HELP = "Replace the dataset even with another schema (else exit 4)."
_MODE_HELP = (
    "When the dataset holds other data: replace it, or append these rows (same schema). "
    "Without it, other data is refused (exit 4)."
)
_MAX_BYTES_HELP = "Refuse an input larger than N bytes (for gzip: decompressed). [default: 16 GiB]"


def _mode_options(command: Callable[..., None]) -> Callable[..., None]:
    """--mode replace|append, --replace and --max-bytes: what ingest and register share."""
    command = click.option("--max-bytes", type=IntRange(min=1), metavar="N", help=_MAX_BYTES_HELP)(
        command
    )
    command = click.option("--replace", is_flag=True, help=_REPLACE_HELP)(command)
    return click.option("--mode", type=click.Choice(["replace", "append"]), help=_MODE_HELP)(
        command
    )


@dataset_group.command("ingest")
@click.argument("name")
@click.argument("file", metavar="FILE")
@_mode_options
@click.option("--delimiter", metavar="C", help="The field delimiter (\\t for a tab); else sniffed.")
@click.option(
    "--null-value",
    "null_values",
    multiple=True,
    metavar="TEXT",
    help="A field that means NULL (repeatable); replaces the default, the empty field.",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="NAME=TYPE",
    help="Read column NAME as a DuckDB TYPE (repeatable), e.g. zip=VARCHAR.",
)
@mutation_options
@json_option
@examples("""
lakehouse dataset ingest staff staff.csv
lakehouse dataset ingest staff more_staff.csv --mode append
lakehouse dataset ingest staff staff_v2.csv --replace --json
zcat staff.csv.gz | lakehouse dataset ingest staff - --delimiter ';' --null-value NA --null-value ''
lakehouse dataset ingest zips zips.tsv --column zip=VARCHAR
""")
def ingest(
    *,
    name: str,
    file: str,
    mode: str | None,
    replace: bool,
    max_bytes: int | None,
    delimiter: str | None,
    null_values: tuple[str, ...],
    columns: tuple[str, ...],
    if_rev: int | None,
    idempotency_key: str | None,
) -> None:
    """Ingest a CSV (also gzip, TSV...) or Parquet file as dataset NAME; '-' reads stdin.

    Prints what happened (created, replaced, appended or unchanged), its rev and seq.

    A CSV is read as DuckDB's read_csv reads it: delimiter, types sniffed; empty field NULL.
    """
    from lakehouse.catalog._inputs import MAX_INPUT_BYTES

    source: str | BinaryIO = sys.stdin.buffer if file == "-" else file
    with open_store() as store:
        outcome = Datasets(store).ingest(
            name,
            source,
            mode=mode,
            replace=replace,
            delimiter=delimiter,
            null_values=list(null_values) or None,
            columns=_column_types(columns),
            max_bytes=max_bytes or MAX_INPUT_BYTES,
            if_rev=if_rev,
            idempotency_key=idempotency_key,
            progress=_progress(file),
        )
    _print_ingest(outcome)


@dataset_group.command("register")
@click.argument("name")
@click.option("--path", "path", required=True, metavar="FILE.parquet", help="A Parquet file.")
@_mode_options
@mutation_options
@json_option
@examples("""
lakehouse dataset register scores --path scores.parquet
lakehouse dataset register scores --path scores_2025.parquet --mode append
""")
def register(
    *,
    name: str,
    path: str,
    mode: str | None,
    replace: bool,
    max_bytes: int | None,
    if_rev: int | None,
    idempotency_key: str | None,
) -> None:
    """Register a Parquet file as dataset NAME (it is copied into the store)."""
    from lakehouse.catalog._inputs import MAX_INPUT_BYTES

    with open_store() as store:
        outcome = Datasets(store).register(
            name,
            path,
            mode=mode,
            replace=replace,
            max_bytes=max_bytes or MAX_INPUT_BYTES,
            if_rev=if_rev,
            idempotency_key=idempotency_key,
            progress=_progress(path),
        )
    _print_ingest(outcome)


def _column_types(columns: tuple[str, ...]) -> dict[str, str] | None:
    """--column NAME=TYPE values as a dict; a malformed or repeated one is invalid input."""
    from lakehouse._errors import InvalidInput

    types: dict[str, str] = {}
    for given in columns:
        column, sep, kind = given.partition("=")
        if not sep or not column or not kind.strip():
            raise InvalidInput(
                f"--column {given!r} is not NAME=TYPE",
                hint="give a column of the header and a DuckDB type, e.g. --column zip=VARCHAR",
                field="columns",
            )
        if column in types:
            raise InvalidInput(
                f"--column {column} is given twice",
                hint="give each column one type",
                field="columns",
            )
        types[column] = kind.strip()
    return types or None


def _print_ingest(outcome: Outcome) -> None:
    """The outcome line, saying what happened to the dataset's data."""
    extra = outcome.extra

    def human() -> None:
        line, action = describe(outcome), extra.get("action")
        if action == "unchanged" and not outcome.replayed:
            line = f"dataset {outcome.id} rev {outcome.rev}: unchanged, the same data"
        elif action == "appended" and not outcome.replayed:
            line += (
                f": appended {_rows(extra['object_rows'])} "
                f"({_rows(extra['rows'])} in {extra['files']} objects)"
            )
        elif action is not None and not outcome.replayed:
            line += f": {action}, {_rows(extra['rows'])}"
        click.echo(line)

    emit({**outcome.to_dict(), **({"head": outcome.head} if outcome.head else {})}, human)


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
        outcome = Datasets(store).drop(name, if_rev=if_rev, idempotency_key=idempotency_key)
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
        heads = Datasets(store).list()
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
        head = Datasets(store).show(name)
    print_head(
        head,
        {
            "schema": lambda schema: ", ".join(f"{c['name']} {c['type']}" for c in schema),
            "files": lambda files: ", ".join(file["path"] for file in files),
        },
    )


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


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
    from lakehouse._query import sql
    from lakehouse.catalog._read import live_head
    from projections import quote

    with open_store() as store:
        live_head(store, name)  # NotFound (exit 5) if there is none, or it was dropped
        result = sql(store, f"SELECT * FROM {quote(name)} LIMIT {rows}")
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
