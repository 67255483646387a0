"""`lakehouse playbook ...`: the playbooks family on the command line."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.clikit import (
    SEQ,
    IntRange,
    examples,
    format_option,
    json_option,
    mutation_options,
    open_store,
    print_head,
    print_outcome,
    print_rows,
)
from lakehouse.playbooks._api import Playbooks


@click.group("playbook", context_settings={"help_option_names": ["-h", "--help"]})
def playbook_group() -> None:
    """Playbooks: endorsed answers to a query, recorded and retired."""


@playbook_group.command("record")
@click.option("--query", required=True, metavar="Q", help="The query the playbook answers.")
@click.option(
    "--endorsed",
    "endorsed",
    multiple=True,
    metavar="A,B",
    help="The endorsed names, comma-separated (the option may also repeat).",
)
@click.option("--target-count", required=True, type=int, metavar="N", help="Names wanted.")
@click.option("--fingerprint", metavar="F", help="The roster fingerprint (needed by fill).")
@click.option(
    "--kind",
    type=click.Choice(["answer", "fill"]),
    default="answer",
    show_default=True,
    help="fill: endorse at most 2 x --target-count names, with --fingerprint.",
)
@mutation_options
@json_option
@examples("""
lakehouse playbook record --query "who leads ETL?" --endorsed ada --target-count 1
lakehouse playbook record --query "staff it" --endorsed ada,grace --target-count 1 \\
    --kind fill --fingerprint roster-v3 --json
""")
def record(
    *,
    query: str,
    endorsed: tuple[str, ...],
    target_count: int,
    fingerprint: str | None,
    kind: Any,
    if_rev: int | None,
    idempotency_key: str | None,
) -> None:
    """Record a playbook (a new id, rev 1) and print its id and seq."""
    with open_store() as store:
        outcome = Playbooks(store).record(
            query=query,
            endorsed=[name for given in endorsed for name in given.split(",")],
            target_count=target_count,
            fingerprint=fingerprint,
            kind=kind,
            if_rev=if_rev,
            idempotency_key=idempotency_key,
        )
    print_outcome(outcome)


@playbook_group.command("retire")
@click.argument("pid", metavar="ID")
@click.option("--reason", metavar="R", help="Why it is retired.")
@mutation_options
@json_option
@examples("""
lakehouse playbook retire pb_0123 --reason "roster changed"
""")
def retire(
    *, pid: str, reason: str | None, if_rev: int | None, idempotency_key: str | None
) -> None:
    """Retire a playbook: still readable, gone from the list; twice changes nothing."""
    with open_store() as store:
        outcome = Playbooks(store).retire(
            pid, reason=reason, if_rev=if_rev, idempotency_key=idempotency_key
        )
    print_outcome(outcome)


@playbook_group.command("show")
@click.argument("pid", metavar="ID")
@json_option
@examples("""
lakehouse playbook show pb_0123
""")
def show(pid: str) -> None:
    """Print a playbook's current head."""
    with open_store() as store:
        head = Playbooks(store).show(pid)
    print_head(head)


@playbook_group.command("search")
@click.argument("query")
@click.option("-k", "k", type=IntRange(1, 1000), default=10, show_default=True, help="Hits.")
@click.option("--as-of-seq", type=SEQ, metavar="N", help="Search as the playbooks were at seq N.")
@format_option()
@json_option
@examples("""
lakehouse playbook search "night roster" -k 3
""")
def search(query: str, k: int, as_of_seq: int | None) -> None:
    """Find the live playbooks whose query is most like QUERY (retired ones never)."""
    with open_store() as store:
        hits = Playbooks(store).search(query, k=k, as_of=as_of_seq)
    print_rows(hits, ["score", "id", "rev", "kind", "target_count", "query"], empty="none found")


@playbook_group.command("list")
@click.option("--include-retired", is_flag=True, help="Retired playbooks too.")
@format_option()
@json_option
@examples("""
lakehouse playbook list
lakehouse playbook list --include-retired --json
""")
def list_(include_retired: bool) -> None:
    """List playbooks, oldest first."""
    with open_store() as store:
        heads = Playbooks(store).list(include_retired=include_retired)
    columns = ["id", "rev", "kind", "target_count", "endorsed", "retired", "query"]
    print_rows(heads, columns, empty="no playbooks")
