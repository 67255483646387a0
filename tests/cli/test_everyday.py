"""The everyday read verbs: `tables`, `dataset head|export`, `--format` on every list verb,
and the interactive `lakehouse sql` shell (driven through a pseudo-terminal).

One store serves every test that only reads; automatic checkpoints are off, so the read
models hold their records in tails (the internal tables `tables` must not show).
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from journal import Journal
from lakehouse import Store
from lakehouse.cli import cli

OFF = {"LAKEHOUSE_CHECKPOINT_EVERY": "0"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("everyday")
    path = base / "store"
    Journal.open(path, create=True).close()
    source = base / "staff.csv"
    source.write_text('id,name,rate\n1,Ada,92.5\n2,"Grace, H",88\n3,Radia,71.25\n')
    with Store.open(path, checkpoint_every=0) as store:
        store.datasets.ingest("staff", source)
        store.traces.add(text="plan the ingest", tags=["etl"])
        store.sessions.record(
            {
                "id": "s-1",
                "model": "m",
                "outcome": "success",
                "grounded_in_roster": True,
                "timings": {},
                "attempts": [{"prompt": "p", "raw": "r", "verdict": "ok"}],
            }
        )
        store.playbooks.record(query="who leads etl", endorsed=["Ada"], target_count=1)
    return path


def run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(root), *args], env=OFF)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


# -- tables ------------------------------------------------------------------------------


def test_tables_lists_read_models_and_datasets_and_hides_the_tails(root: Path) -> None:
    code, out, err = run(root, "tables", "--format", "json")
    assert (code, err) == (0, "")
    found = {row["name"]: row for row in json.loads(out)["rows"]}
    assert found["staff"]["kind"] == "dataset"
    assert found["staff"]["columns"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "name", "type": "VARCHAR"},
        {"name": "rate", "type": "DOUBLE"},
    ]
    assert found["traces"]["kind"] == "read model"
    assert {"journal", "sessions", "playbooks", "datasets", "trace_revisions"} <= set(found)
    assert not [name for name in found if name.startswith("_")]
    code, out, _ = run(root, "sql", "SHOW TABLES", "--format", "nl")
    shown = [json.loads(line)["name"] for line in out.splitlines()]
    assert code == 0 and sorted(shown) == sorted(found)
    code, out, _ = run(root, "tables")
    assert (
        code == 0 and "staff  (dataset, 3 columns)\n  id BIGINT, name VARCHAR, rate DOUBLE\n" in out
    )


# -- dataset head and export -------------------------------------------------------------


def test_dataset_head_prints_the_first_rows_like_sql(root: Path) -> None:
    assert run(root, "dataset", "head", "staff", "-n", "2") == (
        0,
        "id  name      rate\n1   Ada       92.5\n2   Grace, H  88.0\n",
        "",
    )
    code, out, _ = run(root, "dataset", "head", "staff", "-n", "1", "--format", "csv")
    assert (code, out) == (0, '"id","name","rate"\n1,"Ada",92.5\n')
    assert run(root, "dataset", "head", "nobody") == (
        5,
        "",
        "error: no dataset 'nobody'\nhint: list datasets with 'lakehouse dataset list'\n",
    )


def test_export_writes_parquet_and_csv_and_never_overwrites_unasked(
    root: Path, tmp_path: Path
) -> None:
    target = tmp_path / "staff.parquet"
    code, out, _ = run(root, "dataset", "export", "staff", "--to", str(target), "--json")
    assert code == 0 and json.loads(out)["rows"] == 3
    with Store.open(root) as store:
        assert pq.read_table(target).equals(store.datasets.read("staff"))
    refused = run(root, "dataset", "export", "staff", "--to", str(target))
    assert refused == (
        3,
        "",
        f"error: {str(target)!r} exists already\n"
        "hint: pass --force to replace it, or export to a new name\n",
    )
    sheet = tmp_path / "staff.csv"
    sheet.write_text("old")
    assert run(root, "dataset", "export", "staff", "--to", str(sheet), "--force")[0] == 0
    expected = run(root, "sql", "SELECT * FROM staff", "--format", "csv")[1]
    assert sheet.read_text() == expected
    assert sorted(path.name for path in tmp_path.iterdir()) == ["staff.csv", "staff.parquet"]


@pytest.mark.parametrize("inside", ["objects/staff.csv", "../store/x.parquet"])
def test_export_into_the_store_is_refused(root: Path, inside: str) -> None:
    code, _, err = run(root, "dataset", "export", "staff", "--to", str(root / inside))
    assert code == 3
    assert err.splitlines()[1] == "hint: export to a path outside the store directory"
    assert not (root / inside).exists()


# -- --format on every verb that prints rows ---------------------------------------------

LISTS = [
    ("trace", "list"),
    ("trace", "search", "ingest"),
    ("session", "list"),
    ("playbook", "list"),
    ("playbook", "search", "etl"),
    ("dataset", "list"),
    ("checkpoint", "list"),
    ("segments", "list"),
    ("journal", "tail", "--limit", "3"),
    ("tables",),
    ("projections", "status"),
]


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[Any, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        elif command is not None:
            yield (*path, name), command


def test_every_verb_that_prints_rows_takes_format() -> None:
    """A verb whose code prints rows (print_rows, print_result) has the shared --format,
    and is in LISTS, so the test above runs it in every format."""
    commands = dict(_commands(cli))
    printing = {
        path
        for path, command in commands.items()
        if re.search(r"\bprint_(rows|result)\(", inspect.getsource(command.callback))
    }
    takes = {
        path for path, command in commands.items() if any(p.name == "fmt" for p in command.params)
    }
    assert len(printing) >= 12 and printing - takes == set()
    # sql and dataset head (a query's rows) have their own format tests above
    untested = [
        path
        for path in takes - {("sql",), ("dataset", "head")}
        if not any(verb[: len(path)] == path for verb in LISTS)
    ]
    assert untested == []


@pytest.mark.parametrize("verb", LISTS, ids=" ".join)
def test_every_list_verb_takes_every_format(root: Path, verb: tuple[str, ...]) -> None:
    code, out, err = run(root, *verb, "--format", "json")
    assert (code, err) == (0, "")
    rows: list[dict[str, Any]] = json.loads(out)["rows"]
    assert json.loads(out)["row_count"] == len(rows)
    code, out, _ = run(root, *verb, "--format", "nl")
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == rows
    code, out, _ = run(root, *verb, "--format", "csv")
    lines = list(csv.reader(io.StringIO(out)))
    assert code == 0 and len(lines) == len(rows) + 1 and len(set(map(len, lines))) == 1
    assert run(root, *verb, "--format", "table")[0] == 0


def test_journal_tail_cannot_follow_one_json_object(root: Path) -> None:
    code, _, err = run(root, "journal", "tail", "--follow", "--format", "json")
    assert code == 2 and "cannot --follow" in err


# -- the interactive shell ---------------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal: type into it, wait for what it prints."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.child = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        """What was printed up to and including `text` (since the last expect)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"waited for {text!r}; the terminal shows {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"the shell ended before {text!r}: {self.seen!r}"
                self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        head, _, self.seen = self.seen.partition(text)
        return head + text

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        """Wait for the child to end; its exit status."""
        try:
            return self.child.wait(timeout=20)
        finally:
            os.close(self.master)

    def kill(self) -> None:
        """End the child at once (a test that failed must not leave it running)."""
        self.child.kill()
        self.close()


def test_the_shell_runs_statements_keeps_history_and_survives_errors(
    root: Path, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    env = {**os.environ, **OFF, "LAKEHOUSE_SQL_HISTORY": str(history), "TERM": "dumb"}
    code = "from lakehouse.cli import main; main()"
    terminal = Terminal([sys.executable, "-c", code, "--store", str(root), "sql"], env)
    try:
        terminal.expect("sql> ")
        terminal.type("SELECT 41 + 1\n")
        terminal.expect("...> ")
        terminal.type("AS answer;\n")
        assert "answer\n42" in terminal.expect("sql> ")
        terminal.type("DELETE FROM journal;\n")
        assert "error: DELETE statements are refused" in terminal.expect("sql> ")
        terminal.type("\x10\x10\n")  # Ctrl-P twice: back to the first statement
        terminal.expect("answer\n42")  # (readline redraws the prompt as it goes back)
        terminal.type(".format csv\nSELECT count(*) AS n FROM staff;\n")
        terminal.expect('"n"\n3\n')
        terminal.type(".quit\n")
    except BaseException:
        terminal.kill()
        raise
    assert terminal.close() == 0
    assert history.read_text().splitlines() == [
        "SELECT 41 + 1 AS answer;",  # a statement of two lines is one entry
        "DELETE FROM journal;",
        "SELECT 41 + 1 AS answer;",
        ".format csv",
        "SELECT count(*) AS n FROM staff;",
        ".quit",
    ]
