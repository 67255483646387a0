"""`lakehouse checkpoint create|list|verify`: snapshots of the heads."""

from __future__ import annotations

import click

from lakehouse.cli._common import emit, examples, json_option, progress, state
from lakehouse.cli._mutation import open_store, print_rows


@click.group("checkpoint", context_settings={"help_option_names": ["-h", "--help"]})
def checkpoint_group() -> None:
    """Checkpoints: snapshots of the derived state at a seq, so nothing replays from genesis."""


@checkpoint_group.command("create")
@json_option
@examples("""
lakehouse checkpoint create
""")
def create() -> None:
    """Snapshot the heads at the journal's head into checkpoints/ckpt-<seq>/."""
    progress("writing a checkpoint...")
    with open_store() as store:
        made = store.checkpoint()
    info = {"ok": True, "seq": made.seq, "path": str(made.path), "files": len(made.files)}
    emit(
        info,
        lambda: click.echo(f"checkpoint at seq {made.seq}: {made.path} ({len(made.files)} files)"),
    )


@checkpoint_group.command("list")
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
