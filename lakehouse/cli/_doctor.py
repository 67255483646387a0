"""`lakehouse doctor [--verify-journal] [--repair]`: what is wrong, the proof, safe repairs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from lakehouse.clikit import emit, examples, json_option, state

if TYPE_CHECKING:
    from lakehouse.doctor import Action, Report


@click.command("doctor", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--verify-journal",
    is_flag=True,
    help="Check every record and segment hash, rebuild every projection from genesis and "
    "diff it against the latest checkpoint and the live read models.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Then do what is safe (rebuild meta.json, projections and checkpoints, sweep old "
    "temp files), each action listed before it is done; history is never rewritten.",
)
@json_option
@examples("""
lakehouse doctor
lakehouse doctor --verify-journal
lakehouse doctor --verify-journal --json | jq '.findings[] | select(.severity == "error")'
lakehouse doctor --repair
""")
def doctor(verify_journal: bool, repair: bool) -> None:
    """Check the store: lock holder, meta.json, every record, checkpoints, strays, lag.

    The quick check takes no lock and writes nothing. Exit 0 when healthy (warnings and
    adjudicated torn writes are healthy), 7 when something is damaged or diverged.
    """
    report = _check(verify_journal)
    actions: list[Action] = []
    if repair:
        from lakehouse.doctor import repair as run_repair

        actions = run_repair(
            state().store,
            report,
            lock_timeout=state().lock_timeout,
            announce=_say("will", "repair plan:"),
            finished=_say("", "repairs:"),
        )
        if actions:
            report = _check(verify_journal)  # the verdict is the state after the repairs
    body: dict[str, Any] = report.to_dict()
    if repair:
        body["actions"] = [action.to_dict() for action in actions]
    emit(body, lambda: _print(report, repaired=repair and not actions))
    if not report.healthy:
        click.get_current_context().exit(report.exit_code)


def _check(verify_journal: bool) -> Report:
    from lakehouse.doctor import diagnose, verify

    check = verify if verify_journal else diagnose
    return check(state().store, progress=_progress)


def _progress(message: str, *, transient: bool = False) -> None:
    """Progress on stderr, only on a terminal; transient lines overwrite each other."""
    if not sys.stderr.isatty():
        return
    if transient:
        click.echo(f"\r{message}", err=True, nl=False)
    else:
        click.echo(f"\r{message}", err=True)


def _say(verb: str, heading: str) -> Callable[[Action], None]:
    """Print each action for people (not under --json: the actions are in the report)."""
    said: list[bool] = []

    def say(action: Action) -> None:
        if state().json:
            return
        if not said:
            click.echo(heading)
            said.append(True)
        if verb:
            skip = f" (skipped: {action.skipped})" if action.skipped else ""
            line = f"  {verb}: {action.description}{skip}"
        elif action.done:
            line = f"  done: {action.description}"
        elif action.error:
            line = f"  failed: {action.description}: {action.error}"
        else:
            line = f"  skipped: {action.description}: {action.skipped}"
        click.echo(line)

    return say


def _print(report: Report, *, repaired: bool) -> None:
    for finding in report.sorted_findings():
        for line in finding.lines():
            click.echo(line)
    if repaired:
        click.echo("nothing to repair")
    click.echo(report.verdict())


__all__ = ["doctor"]
