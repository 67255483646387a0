"""`lakehouse trace ...` and `lakehouse checkpoint ...`: output, exit codes, exact errors.

Every refusal also checks that the journal's head seq did not move.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from journal import Journal
from lakehouse.cli import cli


def run(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args])
    return result.exit_code, result.stdout, result.stderr


def head(store: Path) -> int | None:
    with Journal.open(store) as journal:
        return journal.head_seq


def add(store: Path, *args: str) -> dict[str, object]:
    code, out, err = run(store, "trace", "add", *args, "--json")
    assert code == 0, err
    body: dict[str, object] = json.loads(out)
    return body


def test_add_prints_entity_rev_and_seq(store: Path) -> None:
    code, out, err = run(store, "trace", "add", "--text", "plan the ingest", "--tag", "etl")
    assert code == 0 and err == ""
    uid = out.split()[1]
    assert out == f"trace {uid} rev 1 at seq {head(store)}\n"
    code, out, _ = run(store, "trace", "get", uid, "--json")
    body = json.loads(out)
    assert (body["uid"], body["text"], body["tags"], body["rev"]) == (
        uid,
        "plan the ingest",
        ["etl"],
        1,
    )


def test_json_outcome_has_one_object(store: Path) -> None:
    body = add(store, "--content", '{"step": "validate"}')
    assert body["ok"] is True and body["entity"] == "trace" and body["rev"] == 1
    assert body["seq"] == head(store)
    assert body["head"]["content"] == {"step": "validate"}  # type: ignore[index]


def test_stale_if_rev_exits_4_naming_expected_and_actual(store: Path) -> None:
    uid = str(add(store, "--text", "a")["id"])
    assert run(store, "trace", "update", uid, "--text", "b", "--if-rev", "1")[0] == 0
    before = head(store)
    code, out, err = run(store, "trace", "update", uid, "--text", "c", "--if-rev", "1")
    assert (code, out) == (4, "")
    assert err == (
        f"error: trace {uid} is at rev 2, not rev 1\n"
        f"hint: re-read it with 'lakehouse trace get {uid}' and retry with --if-rev 2\n"
    )
    assert head(store) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--content", "{bad"], "error: --content is not valid JSON: unexpected character"),
        (
            ["--text", "a", "--content", "{}"],
            "error: trace add: give exactly one of text or content",
        ),
        (["--text", "a", "--tag", "no spaces"], "error: trace add: tags: tag 'no spaces' must be"),
        ([], "error: trace add: give exactly one of text or content"),
    ],
)
def test_bad_input_exits_3_and_appends_nothing(store: Path, args: list[str], message: str) -> None:
    before = head(store)
    code, out, err = run(store, "trace", "add", *args)
    assert (code, out) == (3, "")
    assert err.startswith(message) and "\nhint: " in err
    assert head(store) == before


def test_unknown_uid_exits_5(store: Path) -> None:
    before = head(store)
    for verb in (["get"], ["history"], ["retire"], ["update", "--text", "x"]):
        code, _, err = run(store, "trace", verb[0], "trc_missing", *verb[1:])
        assert code == 5, verb
        assert err.startswith("error: no trace 'trc_missing'\nhint: ")
    assert head(store) == before


def test_revise_history_retire_and_list(store: Path) -> None:
    first = str(add(store, "--text", "v1", "--tag", "ops")["id"])
    code, out, _ = run(store, "trace", "revise", first, "--text", "v2", "--json")
    second = json.loads(out)["id"]
    assert code == 0 and json.loads(out)["predecessor"] == first
    code, out, _ = run(store, "trace", "history", second)
    assert code == 0
    assert out.splitlines() == [
        f"{second}  rev 1  current  v2",
        f"  {first}  rev 2  superseded  v1",
    ]
    assert run(store, "trace", "retire", second, "--reason", "done")[0] == 0
    code, out, _ = run(store, "trace", "list", "--tag", "ops")
    assert (code, out) == (0, "no traces\n")
    code, out, _ = run(store, "trace", "list", "--include-retired", "--json")
    assert [json.loads(line)["uid"] for line in out.splitlines()] == [second]


def test_idempotency_key_retry_appends_nothing(store: Path) -> None:
    first = add(store, "--text", "once", "--idempotency-key", "req-1")
    before = head(store)
    again = add(store, "--text", "once", "--idempotency-key", "req-1")
    assert (again["seq"], again["id"], again["replayed"]) == (first["seq"], first["id"], True)
    assert head(store) == before
    code, _, err = run(store, "trace", "add", "--text", "other", "--idempotency-key", "req-1")
    assert code == 4 and "was first used for a different command" in err


def test_checkpoint_create_list_verify(store: Path) -> None:
    add(store, "--text", "a")
    code, out, _ = run(store, "checkpoint", "create", "--json")
    made = json.loads(out)
    assert code == 0 and made["seq"] == head(store)
    code, out, _ = run(store, "checkpoint", "list", "--json")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [made["seq"]]
    assert run(store, "checkpoint", "verify")[0] == 0
    shard = Path(made["path"]) / "heads" / "trace.json"
    shard.write_bytes(shard.read_bytes().replace(b'"a"', b'"b"'))
    code, out, _ = run(store, "checkpoint", "verify", "--json")
    report = json.loads(out)
    assert code == 7 and report["ok"] is False
    assert [finding["code"] for finding in report["findings"]] == ["sha_mismatch"]


def test_concurrent_if_rev_updates_one_winner_per_rev(store: Path) -> None:
    uid = str(add(store, "--text", "shared")["id"])
    command = [sys.executable, "-m", "lakehouse.cli", "--store", str(store), "trace", "update"]
    procs = [
        subprocess.Popen(
            [*command, uid, "--text", f"writer {n}", "--if-rev", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(6)
    ]
    codes = sorted(proc.wait(timeout=60) for proc in procs)
    for proc in procs:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    assert codes == [0, 4, 4, 4, 4, 4]
    assert json.loads(run(store, "trace", "get", uid, "--json")[1])["rev"] == 2


def test_a_busy_store_exits_6_naming_the_holder(store: Path) -> None:
    with Journal.open(store) as journal, journal.transaction():
        before = head(store)
        code, out, err = run(store, "--lock-timeout", "0.05", "trace", "add", "--text", "x")
        holder = json.loads((store / "LOCK").read_bytes().strip())  # this process
    assert (code, out) == (6, "")
    assert err == (
        f"error: store busy: held by writer {holder['writer']} since {holder['since']}\n"
        "hint: wait for that writer to finish, or wait longer (lakehouse --lock-timeout SECONDS)\n"
    )
    assert head(store) == before
