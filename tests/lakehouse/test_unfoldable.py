"""A record the read models cannot hold stops no reader: it follows its projection's policy.

The records are written straight through the journal, around the commands' validation,
as an older version or a hand edit would have: a target_count beyond a BIGINT, values of
the wrong type, a record about an entity no record created, and an envelope that is not
even a record's (a rev that is text) with a checksum that matches. The entity tables skip
them into dead letters, which the quick doctor, the verify and `projections status` name;
the raw `journal` table stops at the one it cannot hold, and only its own queries fail.
Every other reader goes on: SQL, search, checkpoints, the doctor and the server.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lakehouse import Store
from lakehouse.cli import cli

SESSION: dict[str, Any] = {
    "id": "s-good",
    "model": "m",
    "attempts": [{"prompt": "p", "raw": "r", "verdict": "ok"}],
    "outcome": "success",
    "grounded_in_roster": True,
    "timings": {"total_s": 1.5},
}
BAD = [  # (kind, entity, id, payload, rev): what the commands refuse, written anyway
    ("playbook.recorded", "playbook", "pb_big", {"query": "q", "target_count": 2**63}, 1),
    ("playbook.recorded", "playbook", "pb_word", {"query": "q", "target_count": "ten"}, 1),
    ("session.recorded", "session", "s-bad", {"attempts": "abc", "outcome": "success"}, 1),
    ("trace.added", "trace", "trc_tags", {"text": "numbered", "tags": [1, 2]}, 1),
    ("trace.updated", "trace", "trc_nobody", {"text": "who?"}, 2),
]


def run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(root), *args])
    return result.exit_code, result.stdout, result.stderr


def sql(root: Path, query: str) -> list[list[Any]]:
    code, out, err = run(root, "--json", "sql", query)
    assert (code, err) == (0, ""), err
    rows: list[list[Any]] = json.loads(out)["rows"]
    return rows


def doctor(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(root, "--json", "doctor", *args)
    return code, json.loads(out)


def findings(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["code"] == code]


@pytest.fixture
def bad(tmp_path: Path) -> Iterator[tuple[Path, list[int]]]:
    """A store with good entities, a checkpoint, then the bad records and a good trace."""
    root = tmp_path / "store"
    with Store.open(root, create=True, checkpoint_every=0, durability="none") as store:
        store.traces.add(text="before the bad records")
        store.sessions.record(SESSION)
        store.playbooks.record(query="who approves refunds", endorsed=["ada"], target_count=1)
        store.checkpoint()
        seqs = [
            store.journal.append(kind=k, entity=e, id=i, payload=p, rev=r).seq
            for k, e, i, p, r in BAD
        ]
        store.traces.add(text="after the bad records")
    yield root, seqs


def _letters(root: Path) -> dict[str, int]:
    code, out, _ = run(root, "--json", "projections", "status")
    assert code == 0
    return {row["projection"]: row["dead_letters"] for row in map(json.loads, out.splitlines())}


def _readers_work(root: Path) -> None:
    assert sql(root, "SELECT query, target_count FROM playbooks") == [["who approves refunds", 1]]
    assert sql(root, "SELECT text FROM traces ORDER BY created_seq") == [
        ["before the bad records"],
        ["after the bad records"],
    ]
    assert sql(root, "SELECT id FROM sessions") == [["s-good"]]
    code, out, _ = run(root, "--json", "trace", "search", "after the bad records", "-k", "1")
    assert code == 0 and json.loads(out)["text"] == "after the bad records"
    code, out, _ = run(root, "serve", "--get", "/v1/playbooks/search?q=refunds&k=5")
    assert code == 0 and len(json.loads(out)["data"]["hits"]) == 1


def test_records_the_tables_cannot_hold_are_dead_letters_and_no_reader_stops(
    bad: tuple[Path, list[int]],
) -> None:
    root, seqs = bad
    big, _, session, tags, nobody = seqs
    _readers_work(root)
    # the raw journal has every record, the bad ones as they were written
    assert sql(root, f"SELECT count(*) FROM journal WHERE seq BETWEEN {big} AND {nobody}") == [[5]]
    expected = {"playbooks": 2, "sessions": 1, "traces": 2, "trace_search": 2}
    assert {k: v for k, v in _letters(root).items() if v} == expected
    for args in ([], ["--verify-journal"]):
        code, report = doctor(root, *args)
        assert code == 0 and report["counts"]["dead_letters"] == 7, report
        firsts = {f["message"].split()[1]: f["seq"] for f in findings(report, "dead_letters")}
        assert firsts == {
            "playbooks": big,
            "sessions": session,
            "traces": tags,
            "trace_search": tags,
        }
        (letter,) = [f for f in findings(report, "dead_letters") if f["seq"] == big]
        assert "9223372036854775808" in letter["message"] and "target_count" in letter["message"]
    # a checkpoint over them keeps the dead letters, and reads from it go on
    code, _, err = run(root, "checkpoint", "create")
    assert (code, err) == (0, "")
    _readers_work(root)
    assert {k: v for k, v in _letters(root).items() if v} == expected
    assert doctor(root)[1]["counts"]["dead_letters"] == 7


def _forge(root: Path, uid: str) -> int:
    """Append a record whose rev is text, with a checksum that matches: a hand edit."""
    segment = sorted((root / "journal" / "segments").glob("*.jsonl"))[-1]
    last = json.loads(segment.read_bytes().strip().rsplit(b"\n", 1)[-1])
    seq = last["seq"] + 1
    body = (
        f'{{"seq":{seq},"ts":"{last["ts"]}","writer":"hand","kind":"trace.retired",'
        f'"entity":"trace","id":"{uid}","rev":"x","v":1,"payload":{{"reason":null}}'
    ).encode()
    line = body + b',"crc":"%08x"}' % zlib.crc32(body)
    with open(segment, "ab") as handle:
        handle.write(b"\n" + line + b"\n")
    return seq


def test_the_journal_table_stops_at_a_record_it_cannot_hold_and_only_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store.open(root, create=True, checkpoint_every=0, durability="none") as store:
        uid = store.traces.add(text="before the forged record").id
    forged = _forge(root, uid)
    with Store.open(root, checkpoint_every=0, durability="none") as store:
        store.traces.add(text="after the forged record")
    for _ in range(2):  # from genesis, then from a checkpoint that holds the stop
        assert sql(root, "SELECT count(*) FROM traces") == [[2]]
        code, out, err = run(root, "sql", "SELECT count(*) FROM journal")
        assert (code, out) == (3, "")
        assert f"projection journal cannot apply record seq {forged} (trace.retired)" in err
        assert "column rev (BIGINT) cannot hold 'x'" in err
        code, report = doctor(root)
        assert code == 7 and [f["seq"] for f in findings(report, "projection_stopped")] == [forged]
        code, out, _ = run(root, "--json", "projections", "status")
        rows = {row["projection"]: row for row in map(json.loads, out.splitlines())}
        assert f"seq {forged}" in rows["journal"]["error"] and rows["traces"]["error"] is None
        code, _, err = run(root, "checkpoint", "create")
        assert (code, err) == (0, "")
    code, report = doctor(root, "--verify-journal")
    assert code == 7 and [f["seq"] for f in findings(report, "projection_stopped")] == [forged]
