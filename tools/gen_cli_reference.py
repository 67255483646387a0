"""Write the CLI reference (every command's --help) into README.md between its markers.

Usage: .venv/bin/python tools/gen_cli_reference.py [--check]
  --check  exit 1 if README.md's reference is stale instead of rewriting it
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from lakehouse.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def _commands(group: click.Group, path: list[str]) -> list[list[str]]:
    found = [path]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _commands(command, [*path, name])
        else:
            found.append([*path, name])
    return found


def reference() -> str:
    """The reference as Markdown: one section per command with its help text."""
    runner = CliRunner()
    parts = []
    for path in _commands(cli, []):
        result = runner.invoke(cli, [*path, "--help"], prog_name="lakehouse", terminal_width=100)
        title = " ".join(["lakehouse", *path])
        parts.append(f"### `{title}`\n\n```text\n{result.stdout.rstrip()}\n```\n")
    return "\n".join(parts)


def render(readme: str) -> str:
    """README text with the reference between the markers replaced by a fresh one."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference()}{END}{tail}"


if __name__ == "__main__":
    current = README.read_text()
    fresh = render(current)
    if "--check" in sys.argv[1:]:
        sys.exit(0 if fresh == current else "README.md's CLI reference is stale: run this script")
    README.write_text(fresh)
