"""`lakehouse segments list`: the files the journal is made of."""

from __future__ import annotations

import click

from lakehouse.cli._common import emit, examples, json_option, state


@click.group("segments", context_settings={"help_option_names": ["-h", "--help"]})
def segments_group() -> None:
    """The journal's segment files."""


@segments_group.command("list")
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
        live, _ = journal.segments()
        archived = sorted(journal.archive_dir.glob("*.jsonl"))
    rows = [
        {
            "name": path.name,
            "first_seq": int(path.stem),
            "bytes": path.stat().st_size,
            "state": "archived",
        }
        for path in archived
    ] + [
        {
            "name": seg.name,
            "first_seq": seg.first_seq,
            "bytes": seg.path.stat().st_size,
            "state": "active" if index == len(live) - 1 else "sealed",
        }
        for index, seg in enumerate(live)
    ]

    def human() -> None:
        click.echo(f"{'segment':<28}{'first seq':>12}{'bytes':>14}  state")
        for row in rows:
            click.echo(
                f"{row['name']:<28}{row['first_seq']:>12}{row['bytes']:>14,}  {row['state']}"
            )

    emit({"segments": rows}, human)
