"""`lakehouse sql "SELECT ..."`: one read-only query over the read models."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
import orjson

from lakehouse.cli._common import SEQ, FloatRange, IntRange, examples, json_option, state
from lakehouse.cli._mutation import open_store, print_rows

if TYPE_CHECKING:
    from projections import QueryResult

FORMATS = ("table", "json", "nl", "csv")


@click.command("sql")
@click.argument("query", metavar="SELECT")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="table (default on a terminal), json (one object), nl (a JSON object per row), csv.",
)
@click.option("--as-of-seq", type=SEQ, metavar="N", help="The read models as they were at seq N.")
@click.option("--max-rows", type=IntRange(min=0), metavar="N", help="Stop after N rows.")
@click.option(
    "--timeout",
    type=FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Interrupt the query after this long.",
)
@json_option
@examples("""
lakehouse sql "SELECT uid, text, rev FROM traces WHERE NOT retired ORDER BY updated_seq DESC"
lakehouse sql "SELECT kind, count(*) FROM journal GROUP BY kind" --format csv
lakehouse sql "SELECT * FROM traces" --as-of-seq 120 --format nl
""")
def sql(
    query: str, fmt: str | None, as_of_seq: int | None, max_rows: int | None, timeout: float
) -> None:
    """Run one read-only SELECT over the read models; anything else is refused (exit 3).

    Tables: traces, trace_revisions, trace_search, sessions, session_attempts, playbooks,
    playbook_search, datasets, journal, and a view per dataset under its own name. Files,
    URLs, ATTACH, COPY, INSTALL, SET and more than one statement are refused.
    """
    from projections import run

    with open_store() as store:
        models = store.read_models(as_of=as_of_seq)
        try:
            result = run(models.con, query, max_rows=max_rows, timeout=timeout)
        finally:
            models.close()
    fmt = fmt or ("json" if state().json else "table")
    _print(result, fmt, models.seq)
    if result.truncated:
        click.echo(f"note: stopped after {max_rows} rows (--max-rows)", err=True)


def _print(result: QueryResult, fmt: str, watermark: int) -> None:
    names = [name for name, _ in result.columns]
    if fmt == "csv":
        import pyarrow.csv

        pyarrow.csv.write_csv(result.table, sys.stdout.buffer)
        return
    rows = result.table.to_pylist()
    if fmt == "json":
        body = {
            "columns": [{"name": name, "type": kind} for name, kind in result.columns],
            "rows": [[row[name] for name in names] for row in rows],
            "row_count": len(rows),
            "truncated": result.truncated,
            "watermark": watermark,
        }
        click.echo(_dumps(body))
    elif fmt == "nl":
        for row in rows:
            click.echo(_dumps(row))
    else:
        state().json = False  # a table, even under --json --format table
        print_rows(rows, names, empty="(no rows)")


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
