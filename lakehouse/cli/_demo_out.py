"""How the demo prints: section titles and the CLI command each step stands for."""

from __future__ import annotations

import shlex

import click


def section(title: str) -> None:
    """A bold section title after a blank line."""
    click.echo()
    click.secho(f"== {title}", bold=True)


def command(*args: object, note: str = "") -> None:
    """Print the CLI command equivalent to the next step."""
    line = "$ lakehouse " + " ".join(quote(arg) for arg in args)
    click.secho(line + (f"    # {note}" if note else ""), fg="cyan")


def quote(arg: object) -> str:
    """`arg` quoted for a POSIX shell."""
    return shlex.quote(str(arg))
