"""`lakehouse checkpoint create|list|verify|prune`: snapshots of every read model."""

from __future__ import annotations

import click

from lakehouse.cli._opening import open_store
from lakehouse.clikit import (
    emit,
    examples,
    format_option,
    json_option,
    print_rows,
    progress,
    state,
)


@click.group("checkpoint", context_settings={"help_option_names": ["-h", "--help"]})
def checkpoint_group() -> None:
    """Checkpoints: snapshots of the derived state at a seq, so nothing replays from genesis."""


@checkpoint_group.command("create")
@json_option
@examples("""
lakehouse checkpoint create
""")
def create() -> None:
    """Snapshot every read model (tables, indexes, catalog.json) into checkpoints/ckpt-<seq>/.

    Checkpoints are also made automatically: every 100,000 records (set
    $LAKEHOUSE_CHECKPOINT_EVERY; 0 turns it off) and after a segment is sealed.
    """
    progress("writing a checkpoint...")
    with open_store() as store:
        made = store.checkpoint()
    info = {"ok": True, "seq": made.seq, "path": str(made.path), "files": len(made.files)}
    emit(
        info,
        lambda: click.echo(f"checkpoint at seq {made.seq}: {made.path} ({len(made.files)} files)"),
    )


@checkpoint_group.command("list")
@format_option()
@json_option
@examples("""
lakehouse checkpoint list
""")
def list_() -> None:
    """List checkpoints, oldest first, with a cheap validity check (sizes, no hashing)."""
    from checkpoints import CheckpointStore

    rows = [
        {
            "seq": found.seq,
            "name": found.name,
            "valid": found.valid,
            "files": len(found.files) if found.manifest else None,
            "created_at": found.created_at,
        }
        for found in CheckpointStore(state().store).list()
    ]
    print_rows(rows, ["seq", "name", "valid", "files", "created_at"], empty="no checkpoints")


@checkpoint_group.command("verify")
@json_option
@examples("""
lakehouse checkpoint verify
lakehouse checkpoint verify --json | jq .findings
""")
def verify() -> None:
    """Re-read every checkpoint file against its manifest; exit 7 on any error."""
    from checkpoints import CheckpointStore

    progress("hashing every checkpoint file...")
    findings = CheckpointStore(state().store).scan()
    errors = [finding for finding in findings if finding.severity == "error"]
    report = {"ok": not errors, "findings": [finding.to_dict() for finding in findings]}

    def human() -> None:
        for finding in findings:
            click.echo(f"{finding.severity}: {finding.code}: {finding.message}")
            if finding.hint:
                click.echo(f"  hint: {finding.hint}")
        click.echo("checkpoints healthy" if not errors else f"DAMAGED: {len(errors)} errors")

    emit(report, human)
    if errors:
        raise SystemExit(7)


@checkpoint_group.command("prune")
@click.option("--keep", type=int, required=True, metavar="K", help="Valid checkpoints to keep.")
@json_option
@examples("""
lakehouse checkpoint prune --keep 2
""")
def prune(keep: int) -> None:
    """Delete all but the newest K valid checkpoints (the journal is never touched)."""
    from checkpoints import CheckpointStore

    pruned = CheckpointStore(state().store).prune(keep)
    names = [checkpoint.name for checkpoint in pruned]
    emit(
        {"ok": True, "pruned": names},
        lambda: click.echo(
            f"pruned {len(names)}: {', '.join(names)}" if names else "nothing to prune"
        ),
    )
