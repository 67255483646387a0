"""`lakehouse sql "SELECT ..."`: one read-only query over the read models, or a shell.

The query comes from the argument, from a file (`--file PATH`), or from stdin (`-`, or no
argument when stdin is not a terminal); with neither on a terminal, an interactive shell
starts (cli/_shell.py). The rows are printed by `projections.render`, the conversion the
Python API and the endpoint use too (lakehouse/clikit/_output.py).
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from lakehouse._errors import InvalidInput
from lakehouse.cli._opening import open_store
from lakehouse.clikit import (
    SEQ,
    FloatRange,
    IntRange,
    chosen_format,
    examples,
    format_option,
    json_option,
    print_result,
)


@click.command("sql")
@click.argument("query", metavar="[SELECT|-]", required=False)
@click.option(
    "--file",
    "-f",
    "source",
    type=click.File("r", encoding="utf-8"),
    metavar="PATH",
    help="Read the query from a file (- for stdin).",
)
@format_option(json_means="json")
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
lakehouse sql -f report.sql --format json
echo "SELECT count(*) FROM sessions" | lakehouse sql -
lakehouse sql                      # on a terminal: an interactive shell
""")
def sql(
    query: str | None,
    source: IO[str] | None,
    as_of_seq: int | None,
    max_rows: int | None,
    timeout: float,
) -> None:
    """Run one read-only SELECT over the read models; anything else is refused (exit 3).

    \b
    Tables: traces, trace_revisions, trace_search, sessions, session_attempts, playbooks,
    playbook_search, datasets, journal, and a view per dataset under its own name
    ('lakehouse tables' lists them with their columns). Files, URLs, ATTACH, COPY,
    INSTALL, SET and more than one statement are refused. Columns keep their names,
    repeats included; nl makes a repeat unique (a, a_1, ...). A wide number (HUGEINT,
    DECIMAL, DOUBLE, ...) is a JSON number when every value of its column fits one
    exactly, else all of them are strings and the column's type ends in 'as text'.
    """
    text = _query_text(query, source)
    if text is None:
        from lakehouse.cli._shell import shell

        shell(as_of=as_of_seq, max_rows=max_rows, timeout=timeout)
        return
    with open_store() as store:
        result = store.sql(text, as_of=as_of_seq, max_rows=max_rows, timeout=timeout)
    print_result(result, watermark=result.watermark or 0, fmt=chosen_format(json_means="json"))
    if result.truncated:
        click.echo(f"note: stopped after {max_rows} rows (--max-rows)", err=True)


def _query_text(query: str | None, source: IO[str] | None) -> str | None:
    """The query from the argument, the file or stdin; None: start the shell."""
    if query is not None and source is not None:
        raise InvalidInput(
            "a query was given both as an argument and with --file",
            hint="give one of them",
            field="query",
        )
    if source is not None:
        return _read(source, "--file")
    if query == "-":
        return _read(sys.stdin, "stdin")
    if query is not None:
        return query
    stdin = sys.stdin
    if _is_terminal(stdin) and _is_terminal(sys.stdout):
        return None
    return _read(stdin, "stdin")


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _read(stream: IO[str], where: str) -> str:
    try:
        text = stream.read()
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the query from {where} is not UTF-8 text",
            hint="save the query as UTF-8",
            field="query",
        ) from error
    if not text.strip():
        raise InvalidInput(
            f"the query from {where} is empty",
            hint='pass one SELECT, e.g. lakehouse sql "SELECT count(*) FROM journal"',
            field="query",
        )
    return text
