"""`lakehouse segments list|archive`: the files the journal is made of."""

from __future__ import annotations

from typing import Any

import click

from journal import Segment
from lakehouse.clikit import emit, examples, format_option, json_option, print_rows, state


@click.group("segments", context_settings={"help_option_names": ["-h", "--help"]})
def segments_group() -> None:
    """The journal's segment files."""


@segments_group.command("list")
@format_option()
@json_option
@examples("""
lakehouse segments list
lakehouse segments list --json
""")
def list_segments() -> None:
    """List segments (oldest first) with first seq, size and state; archived ones too.

    Record counts are not shown: they would mean reading every segment whole
    (`lakehouse journal verify` does that).
    """
    with state().journal() as journal:
        archived = journal.archived()[0]
        live = journal.segments()[0]
        sealed = {segment.name for segment, _ in journal.sealed()}
    rows = [_row(seg, "archived") for seg in archived] + [
        _row(seg, "sealed" if seg.name in sealed else "active") for seg in live
    ]

    def human() -> None:
        click.echo(f"{'segment':<28}{'first seq':>12}{'bytes':>14}  state")
        for row in rows:
            click.echo(
                f"{row['name']:<28}{row['first_seq']:>12}{row['bytes']:>14,}  {row['state']}"
            )

    fmt = state().format
    if fmt is None:
        emit({"segments": rows}, human)
    elif fmt == "table":
        human()
    else:
        print_rows(rows, ["name", "first_seq", "bytes", "state"], empty="no segments")


@segments_group.command("archive")
@json_option
@examples("""
lakehouse segments archive
""")
def archive() -> None:
    """Move sealed segments covered by the newest checkpoint to journal/archive/.

    The checkpoint is verified first by re-reading every file against its manifest; a
    damaged one archives nothing (exit 7). Segments are moved, never deleted, and reads
    from genesis still find them.
    """
    from checkpoints import CheckpointStore

    latest = CheckpointStore(state().store).latest_valid()
    if latest is None:
        from lakehouse._errors import NotFound

        raise NotFound(
            "no valid checkpoint covers any segment",
            hint="run 'lakehouse checkpoint create' first",
        )
    findings = [f for f in latest.verify() if f.severity == "error"]
    if findings:
        for finding in findings:
            click.echo(f"error: {finding.message}", err=True)
        click.echo(
            f"hint: {latest.name} is damaged: 'lakehouse checkpoint create' makes a new one "
            "from the newest sound checkpoint and the journal",
            err=True,
        )
        raise SystemExit(7)
    with state().journal(lock_timeout=state().lock_timeout) as journal:
        moved = journal.archive(upto=latest.seq)
    names = [segment.name for segment in moved]
    emit(
        {"ok": True, "checkpoint": latest.name, "archived": names},
        lambda: click.echo(
            f"archived {len(names)} segments covered by {latest.name}"
            if names
            else f"no sealed segment is covered by {latest.name}: nothing to archive"
        ),
    )


def _row(seg: Segment, kind: str) -> dict[str, Any]:
    """One segment's row: `kind` is archived, sealed or active."""
    return {
        "name": seg.name,
        "first_seq": seg.first_seq,
        "bytes": seg.path.stat().st_size,
        "state": kind,
    }
