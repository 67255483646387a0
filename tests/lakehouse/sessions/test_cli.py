"""`lakehouse session ...`: output, exit codes and exact errors; refusals append nothing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from journal import Journal
from lakehouse.cli import cli
from tests.lakehouse._util import SESSION


def run(store: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def head(store: Path) -> int | None:
    with Journal.open(store) as journal:
        return journal.head_seq


def test_record_from_stdin_then_show_and_list(store: Path) -> None:
    code, out, err = run(store, "session", "record", "-", stdin=json.dumps(SESSION))
    assert (code, err) == (0, "")
    assert out == f"session s-1 rev 1 at seq {head(store)}\n"
    code, out, _ = run(store, "session", "record", "-", stdin=json.dumps(SESSION))
    assert (code, out) == (0, "session s-1 rev 1: already so, nothing appended\n")
    code, out, _ = run(store, "session", "show", "s-1", "--json")
    assert code == 0 and json.loads(out)["timings"] == {"total_ms": 10.0}
    code, out, _ = run(store, "session", "list", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["s-1"]


def test_record_from_a_file_with_json_output(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text(json.dumps(SESSION))
    code, out, _ = run(store, "session", "record", str(path), "--json")
    body = json.loads(out)
    assert code == 0 and (body["id"], body["seq"], body["rev"]) == ("s-1", head(store), 1)


def test_refusals_exit_with_their_code_and_append_nothing(store: Path) -> None:
    before = head(store)
    bad = {**SESSION, "outcome": "crashed"}
    code, out, err = run(store, "session", "record", "-", stdin=json.dumps(bad))
    assert (code, out) == (3, "")
    assert err.startswith("error: session record: outcome: Input should be ")
    assert err.endswith("hint: fix the value and retry\n")
    code, _, err = run(store, "session", "record", "-", stdin="{not json")
    assert code == 3 and err.startswith("error: FILE is not valid JSON")
    assert head(store) == before
    run(store, "session", "record", "-", stdin=json.dumps(SESSION))
    before = head(store)
    other = {**SESSION, "model": "other"}
    code, _, err = run(store, "session", "record", "-", stdin=json.dumps(other))
    assert code == 4
    assert err.startswith("error: session s-1 is already recorded with different content\n")
    code, _, err = run(store, "session", "record", "-", "--if-rev", "0", stdin=json.dumps(SESSION))
    assert code == 4 and "'lakehouse session show s-1' and retry with --if-rev 1" in err
    assert head(store) == before
    code, _, err = run(store, "session", "show", "nope")
    assert (code, err) == (
        5,
        "error: no session 'nope'\nhint: list sessions with 'lakehouse session list'\n",
    )
