"""`lakehouse session ...`: the sessions family on the command line."""

from __future__ import annotations

import click

from lakehouse._input import parse_json
from lakehouse._userfile import STDIN, decode_utf8, read_user_file
from lakehouse.clikit import (
    SEQ,
    emit,
    examples,
    format_option,
    json_option,
    mutation_options,
    open_store,
    print_outcome,
    print_rows,
)
from lakehouse.sessions._api import Sessions

MAX_SESSION_FILE = 1 << 20  # 4x the journal's record cap: room for any indentation
FITS = (
    "a session is one journal record, refused above 256 KiB anyway: leave out long raw "
    "outputs, or the indentation"
)


@click.group("session", context_settings={"help_option_names": ["-h", "--help"]})
def session_group() -> None:
    """Coordinator/validator sessions: recorded once, whole."""


@session_group.command("record")
@click.argument("file", metavar="FILE")
@mutation_options
@json_option
@examples("""
lakehouse session record session.json
coordinator --dump | lakehouse session record - --idempotency-key run-42 --json
""")
def record(*, file: str, if_rev: int | None, idempotency_key: str | None) -> None:
    """Record a whole session from a JSON file (- for stdin); once per id.

    FILE must be a regular file of UTF-8 JSON of at most 1 MiB (stdin too: reading stops
    there); anything else, a device or a FIFO included, is refused with exit 3.
    """
    data = read_user_file(file, limit=MAX_SESSION_FILE, field="FILE", fits=FITS)
    where = "standard input" if file == STDIN else file
    session = parse_json(decode_utf8(data, field="FILE", where=where), field="FILE")
    with open_store() as store:
        outcome = Sessions(store).record(session, if_rev=if_rev, idempotency_key=idempotency_key)
    print_outcome(outcome)


@session_group.command("show")
@click.argument("sid")
@click.option(
    "--as-of-seq",
    type=SEQ,
    metavar="N",
    help="As it was at seq N (the nearest checkpoint at or before N plus the records up to "
    "N, archived ones too); N beyond the journal's head is invalid input (exit 3).",
)
@json_option
@examples("""
lakehouse session show s-2024-05-01-0001
lakehouse session show s-2024-05-01-0001 --as-of-seq 40 --json
""")
def show(sid: str, as_of_seq: int | None) -> None:
    """Print a recorded session (or what was recorded as of a seq)."""
    with open_store() as store:
        head = Sessions(store).show(sid, as_of=as_of_seq)

    def human() -> None:
        for key, value in head.items():
            if key != "attempts":
                click.echo(f"{key:<20}{value}")
        for number, attempt in enumerate(head["attempts"], 1):
            click.echo(f"attempt {number}: {attempt['verdict']}")

    emit(head, human)


@session_group.command("list")
@format_option()
@json_option
@examples("""
lakehouse session list
lakehouse session list --json
""")
def list_() -> None:
    """List recorded sessions, oldest first."""
    with open_store() as store:
        heads = Sessions(store).list()
    rows = [{**head, "attempts": len(head["attempts"])} for head in heads]
    print_rows(rows, ["id", "model", "outcome", "attempts", "created_seq"], empty="no sessions")
