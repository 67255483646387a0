"""The interactive `lakehouse sql` shell: statements end with `;`, with readline history.

Each statement reads the read models afresh (what was appended meanwhile is seen), goes
through the same guard and printer as `lakehouse sql`, and a refused or failing one
prints its `error:` and `hint:` and the shell goes on. Lines starting with `.` are the
shell's own: `.tables`, `.format FMT`, `.help`, `.quit`. History is kept in
$LAKEHOUSE_SQL_HISTORY (default ~/.lakehouse_sql_history; set it empty to keep none).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from journal import LakehouseError
from lakehouse.cli._opening import open_store
from lakehouse.clikit import (
    FORMATS,
    chosen_format,
    print_result,
    print_rows,
    report_error,
)

HISTORY_ENV = "LAKEHOUSE_SQL_HISTORY"
HISTORY_LENGTH = 1000
PROMPT, MORE = "sql> ", "...> "
HELP = """\
End a statement with ';' (it may span lines). Shell commands:
  .tables          the tables and views, with their columns
  .format FMT      print rows as table, json, nl or csv (now: {fmt})
  .help            this text
  .quit            leave (Ctrl-D does too; Ctrl-C drops the statement being typed)"""


class Shell:
    """One session: the store, the settings of the `sql` command, the format in use."""

    def __init__(self, store: Any, *, as_of: int | None, max_rows: int | None, timeout: float):
        self.store = store
        self.as_of = as_of
        self.options: dict[str, Any] = {"as_of": as_of, "max_rows": max_rows, "timeout": timeout}
        self.fmt = chosen_format(json_means="json")

    def run(self) -> None:
        """Read statements until .quit or end of input."""
        click.echo(f"lakehouse sql on {self.store.root}: end a statement with ';', .help for help")
        lines: list[str] = []
        while True:
            try:
                line = input(MORE if lines else PROMPT)
            except EOFError:
                click.echo()
                return
            except KeyboardInterrupt:
                click.echo()
                lines = []
                continue
            if not lines and line.strip().startswith("."):
                _remember(line.strip())
                if not self.command(line.strip()):
                    return
                continue
            lines.append(line)
            statement = "\n".join(lines).strip()
            if statement and not statement.endswith(";"):
                continue
            lines = []
            if statement.strip(";").strip():
                _remember(" ".join(statement.split()))
                self.execute(statement)

    def execute(self, statement: str) -> None:
        """Run one statement and print its rows, or its error and hint."""
        try:
            result = self.store.sql(statement, **self.options)
        except LakehouseError as error:
            report_error(error, False)
            return
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            return
        print_result(result, watermark=result.watermark or 0, fmt=self.fmt)

    def command(self, line: str) -> bool:
        """Do a shell command; False when it is .quit."""
        word, _, rest = line.partition(" ")
        if word in (".quit", ".exit", ".q"):
            return False
        if word == ".tables":
            from lakehouse.cli._tables import list_tables

            rows = list_tables(self.store, as_of=self.as_of)
            for row in rows:
                row["columns"] = ", ".join(f"{c['name']} {c['type']}" for c in row["columns"])
            print_rows(rows, ["name", "kind", "columns"], empty="no tables")
        elif word == ".format" and rest.strip() in FORMATS:
            self.fmt = rest.strip()
        elif word == ".help":
            click.echo(HELP.format(fmt=self.fmt))
        else:
            click.echo(f"error: unknown shell command {line!r}", err=True)
            click.echo("hint: .help lists them; end SQL with ';'", err=True)
        return True


def shell(*, as_of: int | None, max_rows: int | None, timeout: float) -> None:
    """Run the interactive shell on the store, with readline history if there is readline."""
    history = _start_history()
    try:
        with open_store() as store:
            Shell(store, as_of=as_of, max_rows=max_rows, timeout=timeout).run()
    finally:
        _save_history(history)


def _history_file() -> Path | None:
    value = os.environ.get(HISTORY_ENV)
    if value == "":
        return None
    return Path(value) if value else Path.home() / ".lakehouse_sql_history"


def _start_history() -> Path | None:
    try:
        import readline
    except ImportError:  # no readline on this platform: a shell without history
        return None
    readline.set_auto_history(False)  # a statement of many lines is one entry
    readline.set_history_length(HISTORY_LENGTH)
    path = _history_file()
    if path is not None and path.is_file():
        try:
            readline.read_history_file(path)
        except OSError as error:
            click.echo(f"warning: history not read from {path}: {error}", err=True)
    return path


def _remember(entry: str) -> None:
    try:
        import readline
    except ImportError:
        return
    readline.add_history(entry)


def _save_history(path: Path | None) -> None:
    if path is None:
        return
    import readline

    try:
        readline.write_history_file(path)
    except OSError as error:
        click.echo(f"warning: history not saved to {path}: {error}", err=True)
