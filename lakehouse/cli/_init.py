"""`lakehouse init`: create a store (idempotent)."""

from __future__ import annotations

import click

from journal import Journal
from lakehouse.clikit import emit, examples, json_option, state


@click.command()
@json_option
@examples("""
lakehouse init
lakehouse --store /data/lh init --json
""")
def init() -> None:
    """Create the store (a no-op on an existing one) and print its id."""
    root = state().store
    existed = Journal.exists(root)
    with Journal.open(root, create=True) as journal:
        store_id = journal.store_id
        head = journal.head_seq
    verb = "store already exists at" if existed else "initialised store at"
    emit(
        {
            "ok": True,
            "store": str(root),
            "store_id": store_id,
            "created": not existed,
            "head_seq": head,
        },
        lambda: click.echo(f"{verb} {root} (store_id {store_id}, head seq {head})"),
    )
