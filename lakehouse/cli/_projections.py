"""`lakehouse projections status|rebuild`: the read models' watermarks and rebuild jobs."""

from __future__ import annotations

import sys
from typing import Any

import click

from lakehouse.cli._opening import open_store
from lakehouse.clikit import emit, examples, format_option, json_option, print_rows, progress


@click.group("projections", context_settings={"help_option_names": ["-h", "--help"]})
def projections_group() -> None:
    """Projections: the read models derived from the journal, and their rebuild jobs."""


@projections_group.command("status")
@format_option()
@json_option
@examples("""
lakehouse projections status
lakehouse projections status --json
""")
def status() -> None:
    """Each projection's watermark (its checkpoint), lag, fingerprint, last error, dead letters."""
    from lakehouse._status import projection_status

    with open_store() as store:
        rows = projection_status(store)
    columns = ["projection", "state", "watermark", "lag", "fingerprint", "dead_letters", "error"]
    print_rows(rows, columns, empty="no projections")


@projections_group.command("rebuild")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "everything", is_flag=True, help="Rebuild every projection.")
@json_option
@examples("""
lakehouse projections rebuild
lakehouse projections rebuild traces trace_search
lakehouse projections rebuild --all
""")
def rebuild(names: tuple[str, ...], everything: bool) -> None:
    """Rebuild from genesis the projections whose fingerprint changed (or NAMEs, or --all).

    The result is a new checkpoint, written aside and renamed into place: readers keep
    using the old one until then. A killed rebuild resumes from its last resume point.
    """
    from lakehouse._rebuild import rebuild as run_rebuild

    with open_store() as store:
        known = {projection.name for projection in store.projections()}
        unknown = sorted(set(names) - known)
        if unknown:
            from lakehouse._errors import NotFound

            raise NotFound(
                f"no projection named {', '.join(unknown)}",
                hint=f"pick from: {', '.join(sorted(known))}",
                projection=unknown[0],
            )
        head = store.journal.head_seq or 0
        progress(f"rebuilding up to seq {head}...")
        report = run_rebuild(store, list(names), everything=everything, progress=_ticker(head))
    emit({"ok": True, **report.to_dict()}, lambda: _print(report.to_dict()))


def _print(report: dict[str, Any]) -> None:
    if not report["rebuilt"]:
        click.echo("every projection is current: nothing to rebuild (use --all to force)")
        return
    resumed = f", resumed from seq {report['resumed_from']}" if report["resumed_from"] else ""
    click.echo(
        f"rebuilt {', '.join(report['rebuilt'])} into checkpoint {report['checkpoint']} "
        f"at seq {report['seq']}{resumed}"
    )


def _ticker(head: int) -> Any:
    if not sys.stderr.isatty() or not head:
        return None

    def tick(seq: int) -> None:
        click.echo(f"\r  seq {seq:,} of {head:,} ({100 * seq // head}%)", err=True, nl=False)

    return tick


__all__ = ["projections_group"]
