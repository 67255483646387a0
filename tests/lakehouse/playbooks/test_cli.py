"""`lakehouse playbook ...`: output, exit codes and exact errors; refusals append nothing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from journal import Journal
from lakehouse.cli import cli


def run(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args])
    return result.exit_code, result.stdout, result.stderr


def head(store: Path) -> int | None:
    with Journal.open(store) as journal:
        return journal.head_seq


def test_record_retire_show_and_list(store: Path) -> None:
    code, out, err = run(
        store, "playbook", "record", "--query", "q", "--endorsed", "a", "--target-count", "1"
    )
    assert code == 0 and err == ""
    pid = out.split()[1]
    assert pid.startswith("pb_") and out == f"playbook {pid} rev 1 at seq {head(store)}\n"
    code, out, _ = run(store, "playbook", "retire", pid, "--reason", "old", "--json")
    assert code == 0 and json.loads(out)["rev"] == 2
    code, out, _ = run(store, "playbook", "retire", pid)
    assert (code, out) == (0, f"playbook {pid} rev 2: already so, nothing appended\n")
    assert run(store, "playbook", "list") == (0, "no playbooks\n", "")
    code, out, _ = run(store, "playbook", "list", "--include-retired", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [pid]
    code, out, _ = run(store, "playbook", "show", pid, "--json")
    assert json.loads(out)["retired_reason"] == "old"


def test_refusals_exit_with_their_code_and_append_nothing(store: Path) -> None:
    before = head(store)
    fill = ("playbook", "record", "--query", "q", "--target-count", "1", "--kind", "fill")
    code, out, err = run(store, *fill, "--endorsed", "a")
    assert (code, out) == (3, "")
    assert err == (
        "error: playbook record: fingerprint: a fill playbook needs a fingerprint\n"
        "hint: pass the fingerprint of the roster the playbook fills\n"
    )
    code, _, err = run(store, *fill, "--fingerprint", "f", "--endorsed", "a,b", "--endorsed", "c")
    assert code == 3 and "at most 2 x target_count = 2 names, not 3" in err
    code, _, err = run(store, "playbook", "retire", "pb_nope")
    assert (code, err.splitlines()[0]) == (5, "error: no playbook 'pb_nope'")
    assert head(store) == before
