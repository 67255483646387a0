"""Rows on stdout: `--format table|json|nl|csv`, one option shared by every verb that lists.

- table (the default): aligned columns for people;
- json: one JSON object (`sql`: columns with types and rows as lists, since names can
  repeat; the list verbs: `{"rows": [objects], "row_count": N}`);
- nl: a JSON object per row (NDJSON), what `--json` has always printed for a list;
- csv: a header line, then a line per row (strings quoted, numbers bare, nested values as
  JSON text).

`--format` wins over `--json`. SQL results are written by `projections.render`, the one
conversion the Python API and the endpoint use too; a list verb's rows are JSON values
already. Nothing here imports pyarrow or duckdb at module load (mutation verbs import
this module and must start fast).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from lakehouse.clikit._common import State, state

if TYPE_CHECKING:
    from projections import QueryResult

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "nl", "csv")
_HELP = (
    "table (default), json (one object), nl (a JSON object per row), csv. "
    "Wins over --json (which means {json_means})."
)


def format_option(*, json_means: str = "nl") -> Callable[[F], F]:
    """Add `--format table|json|nl|csv` to a verb that prints rows (`--json` means `json_means`)."""

    def decorate(command: F) -> F:
        def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
            if value is not None:
                ctx.find_object(State).format = value  # type: ignore[union-attr]

        return click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            expose_value=False,
            callback=remember,
            help=_HELP.format(json_means=json_means),
        )(command)

    return decorate


def chosen_format(*, json_means: str = "nl") -> str:
    """The format asked for: --format, else `json_means` under --json, else table."""
    found = state()
    if found.format is not None:
        return found.format
    return json_means if found.json else "table"


def print_result(result: QueryResult, *, watermark: int, fmt: str) -> None:
    """A query's rows in `fmt`, as `projections.render` writes them."""
    from projections import render

    for piece in render(result, fmt, watermark=watermark):
        click.echo(piece, nl=False)


def print_rows(rows: Sequence[Mapping[str, Any]], columns: list[str], *, empty: str) -> None:
    """Rows of JSON values in the format asked for (`columns` are the table's and CSV's)."""
    fmt = chosen_format()
    if fmt == "nl":
        for row in rows:
            click.echo(orjson.dumps(row).decode())
    elif fmt == "json":
        click.echo(orjson.dumps({"rows": rows, "row_count": len(rows)}).decode())
    elif fmt == "csv":
        from projections import bare, csv_line

        click.echo(csv_line(columns, [True] * len(columns)))
        for row in rows:
            values = [row.get(column) for column in columns]
            click.echo(csv_line(values, [not bare(value) for value in values]))
    else:
        _table(rows, columns, empty=empty)


def _table(rows: Sequence[Mapping[str, Any]], columns: list[str], *, empty: str) -> None:
    from projections import table_text

    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    click.echo(table_text(columns, cells, empty=empty), nl=False)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else str(value)
