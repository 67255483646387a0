"""`lakehouse trace ...`: the traces family on the command line."""

from __future__ import annotations

from typing import Any

import click

from lakehouse._input import parse_json
from lakehouse.clikit import (
    SEQ,
    IntRange,
    emit,
    examples,
    format_option,
    json_option,
    mutation_options,
    open_store,
    print_head,
    print_outcome,
    print_rows,
)
from lakehouse.traces._api import Traces


@click.group("trace", context_settings={"help_option_names": ["-h", "--help"]})
def trace_group() -> None:
    """Pathway traces: a versioned memory with history."""


def _body_options(command: Any) -> Any:
    command = click.option("--tag", "tags", multiple=True, metavar="T", help="A tag (repeat).")(
        command
    )
    command = click.option("--content", metavar="JSON", help="The trace as a JSON object.")(command)
    return click.option("--text", metavar="T", help="The trace as plain text.")(command)


def _content(content: str | None) -> Any:
    return None if content is None else parse_json(content, field="--content")


@trace_group.command("add")
@_body_options
@click.option("--idempotent", is_flag=True, help="Equal content replays the live trace.")
@mutation_options
@json_option
@examples("""
lakehouse trace add --text "plan the ingest" --tag etl
lakehouse trace add --content '{"step": "validate"}' --idempotent --json
""")
def add(
    *,
    text: str | None,
    content: str | None,
    tags: tuple[str, ...],
    idempotent: bool,
    if_rev: int | None,
    idempotency_key: str | None,
) -> None:
    """Add a trace (rev 1) and print its uid and seq."""
    with open_store() as store:
        outcome = Traces(store).add(
            text=text,
            content=_content(content),
            tags=tags,
            idempotent=idempotent,
            if_rev=if_rev,
            idempotency_key=idempotency_key,
        )
    print_outcome(outcome)


@trace_group.command("update")
@click.argument("uid")
@_body_options
@mutation_options
@json_option
@examples("""
lakehouse trace update trc_0123 --text "plan, then validate" --if-rev 1
lakehouse trace update trc_0123 --tag reviewed --json
""")
def update(
    *,
    uid: str,
    text: str | None,
    content: str | None,
    tags: tuple[str, ...],
    if_rev: int | None,
    idempotency_key: str | None,
) -> None:
    """Change a trace in place (same uid, rev + 1); what is not given is kept.

    Nothing to change (the same text or content, the same tags) appends nothing.
    """
    _change(
        "update", uid, text=text, content=content, tags=tags, if_rev=if_rev, key=idempotency_key
    )


@trace_group.command("revise")
@click.argument("uid")
@_body_options
@mutation_options
@json_option
@examples("""
lakehouse trace revise trc_0123 --text "validate before loading"
""")
def revise(
    *,
    uid: str,
    text: str | None,
    content: str | None,
    tags: tuple[str, ...],
    if_rev: int | None,
    idempotency_key: str | None,
) -> None:
    """Supersede a trace with a new one (new uid) whose predecessor it is.

    Nothing to change appends nothing: the trace already is that revision.
    """
    _change(
        "revise", uid, text=text, content=content, tags=tags, if_rev=if_rev, key=idempotency_key
    )


def _change(
    verb: str,
    uid: str,
    *,
    text: str | None,
    content: str | None,
    tags: tuple[str, ...],
    if_rev: int | None,
    key: str | None,
) -> None:
    with open_store() as store:
        traces = Traces(store)
        method = traces.update if verb == "update" else traces.revise
        outcome = method(
            uid,
            text=text,
            content=_content(content),
            tags=list(tags) if tags else None,
            if_rev=if_rev,
            idempotency_key=key,
        )
    print_outcome(outcome)


@trace_group.command("retire")
@click.argument("uid")
@click.option("--reason", metavar="R", help="Why it is retired.")
@mutation_options
@json_option
@examples("""
lakehouse trace retire trc_0123 --reason "superseded by the new runbook"
""")
def retire(
    *, uid: str, reason: str | None, if_rev: int | None, idempotency_key: str | None
) -> None:
    """Retire a trace: still readable, gone from lists and search."""
    with open_store() as store:
        outcome = Traces(store).retire(
            uid, reason=reason, if_rev=if_rev, idempotency_key=idempotency_key
        )
    print_outcome(outcome)


AS_OF = click.option(
    "--as-of-seq",
    type=SEQ,
    metavar="N",
    help="As it was at seq N (the nearest checkpoint at or before N plus the records up to "
    "N, archived ones too); N beyond the journal's head is invalid input (exit 3).",
)


@trace_group.command("get")
@click.argument("uid")
@AS_OF
@json_option
@examples("""
lakehouse trace get trc_0123
lakehouse trace get trc_0123 --as-of-seq 40 --json
""")
def get(uid: str, as_of_seq: int | None) -> None:
    """Print a trace's current head (or its head as of a seq)."""
    with open_store() as store:
        head = Traces(store).get(uid, as_of=as_of_seq)
    print_head(head)


@trace_group.command("history")
@click.argument("uid")
@AS_OF
@json_option
@examples("""
lakehouse trace history trc_0123
lakehouse trace history trc_0123 --as-of-seq 40
""")
def history(uid: str, as_of_seq: int | None) -> None:
    """Walk a trace's predecessors back to the first; report cycles and missing links."""
    with open_store() as store:
        found = Traces(store).history(uid, as_of=as_of_seq)

    def human() -> None:
        for depth, head in enumerate(found["chain"]):
            state = "retired" if head["retired"] else "current" if depth == 0 else "superseded"
            body = head["text"] if head["text"] is not None else head["content"]
            click.echo(f"{'  ' * depth}{head['uid']}  rev {head['rev']}  {state}  {body}")
        for problem in found["problems"]:
            click.echo(f"warning: {problem}", err=True)

    emit(found, human)


@trace_group.command("search")
@click.argument("query")
@click.option("-k", "k", type=IntRange(1, 1000), default=10, show_default=True, help="Hits.")
@click.option("--tag", metavar="T", help="Only traces with this tag.")
@click.option("--include-retired", is_flag=True, help="Retired traces too.")
@click.option("--as-of-seq", type=SEQ, metavar="N", help="Search the traces as they were at seq N.")
@format_option()
@json_option
@examples("""
lakehouse trace search "fill the night roster" -k 5
lakehouse trace search "csv parsing" --tag ingest --json
""")
def search(
    query: str, k: int, tag: str | None, include_retired: bool, as_of_seq: int | None
) -> None:
    """Find the traces most like QUERY (superseded ones never; retired ones on request)."""
    with open_store() as store:
        hits = Traces(store).search(
            query, k=k, tag=tag, include_retired=include_retired, as_of=as_of_seq
        )
    print_rows(hits, ["score", "uid", "rev", "retired", "tags", "text"], empty="no traces found")


@trace_group.command("list")
@click.option("--tag", metavar="T", help="Only traces with this tag.")
@click.option("--include-retired", is_flag=True, help="Retired traces too.")
@format_option()
@json_option
@examples("""
lakehouse trace list --tag etl
lakehouse trace list --include-retired --json
""")
def list_(tag: str | None, include_retired: bool) -> None:
    """List current traces (not superseded), oldest first."""
    with open_store() as store:
        heads = Traces(store).list(tag=tag, include_retired=include_retired)
    rows = [{**head, "body": head["text"] or head["content"]} for head in heads]
    print_rows(rows, ["uid", "rev", "tags", "retired", "body"], empty="no traces")
