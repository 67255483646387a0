"""How the demo prints: section titles and the CLI command each step stands for."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from functools import cache
from pathlib import Path

import click


def section(title: str) -> None:
    """A bold section title after a blank line."""
    click.echo()
    click.secho(f"== {title}", bold=True)


def command(*args: object, note: str = "") -> None:
    """Print the CLI command equivalent to the next step."""
    line = f"$ {program()} " + " ".join(quote(arg) for arg in args)
    click.secho(line + (f"    # {note}" if note else ""), fg="cyan")


def quote(arg: object) -> str:
    """`arg` quoted for a POSIX shell."""
    return shlex.quote(str(arg))


@cache
def program() -> str:
    """How this shell runs the `lakehouse` that runs now: the bare name only if PATH finds it.

    After `python3 tools/demo` it is in .venv/bin/, which is not on PATH until the venv
    is activated, so the demo prints `.venv/bin/lakehouse` (tests/cli/test_demo.py).
    """
    script = Path(sys.executable).parent / "lakehouse"
    found = shutil.which("lakehouse")
    if found is not None and Path(found).resolve() == script.resolve():
        return "lakehouse"
    if not script.exists():
        return f"{quote(sys.executable)} -m lakehouse.cli"
    try:
        shown = os.path.relpath(script)
    except ValueError:
        shown = str(script)
    return quote(shown if not shown.startswith("..") else script)
