"""The demo's tour of the read models: SQL, a dataset as a table, search, as-of-seq."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli._demo_out import command, section
from lakehouse.clikit import print_rows

if TYPE_CHECKING:
    from lakehouse._store import Store


def read_models_tour(store: Store, first_trace_seq: int) -> None:
    """Query the read models the way `lakehouse sql` and `trace search` do."""
    from projections import QueryRefused

    section("7. read models: SQL over every family, similarity search, the past")
    _sql(
        store,
        "SELECT city, count(*) AS people, round(avg(hourly_rate), 2) AS avg_rate "
        "FROM staffing WHERE active GROUP BY city ORDER BY people DESC, city LIMIT 3",
        note="a dataset is a view under its own name",
    )
    _sql(store, "SELECT kind, count(*) AS records FROM journal GROUP BY kind ORDER BY kind")
    query = "check the roster names before answering"
    command("trace", "search", query, "-k", 3)
    hits = store.traces.search(query, k=3)
    print_rows(hits, ["score", "uid", "rev", "text"], empty="no traces found")
    click.echo("(superseded revisions never show; the newest revision is found)")
    count = "SELECT count(*) AS traces FROM traces"
    _sql(store, count, as_of=first_trace_seq, note="the state as it was at that seq")
    _sql(store, count)
    command("sql", "DELETE FROM traces", note="read-only: anything but one SELECT is refused")
    try:
        _run(store, "DELETE FROM traces")
    except QueryRefused as error:
        click.echo(f"error: {error.message}\nhint: {error.hint}\n(exit code {error.exit_code})")
    command("projections", "status")
    from lakehouse._status import projection_status

    rows = projection_status(store)
    print_rows(rows, ["projection", "state", "watermark", "lag", "dead_letters"], empty="none")


def _sql(store: Store, query: str, *, as_of: int | None = None, note: str = "") -> None:
    args: list[object] = ["sql", query]
    if as_of is not None:
        args += ["--as-of-seq", as_of]
    command(*args, note=note)
    names, rows = _run(store, query, as_of=as_of)
    print_rows([dict(zip(names, row, strict=True)) for row in rows], names, empty="(no rows)")


def _run(
    store: Store, query: str, *, as_of: int | None = None
) -> tuple[list[str], list[tuple[object, ...]]]:
    from projections import run

    models = store.read_models(as_of=as_of)
    try:
        result = run(models.con, query)
    finally:
        models.close()
    names = [name for name, _ in result.columns]
    table = result.table.to_pydict()
    return names, list(zip(*(table[name] for name in names), strict=True))
