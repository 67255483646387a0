"""The read verbs: `sql`, `trace search`, `playbook search`, `projections status|rebuild`
and `checkpoint prune`: output shapes, exit codes and the exact error text.

The SQL guard itself is unit-tested in tests/projections/test_sql.py; here only the CLI
contract is pinned. Automatic checkpoints are off (LAKEHOUSE_CHECKPOINT_EVERY=0) so every
checkpoint a test sees is one it made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from checkpoints import CheckpointStore
from journal import Journal
from lakehouse import Store
from lakehouse.cli import cli
from lakehouse.traces._projection import TracesProjection

OFF = {"LAKEHOUSE_CHECKPOINT_EVERY": "0"}
SEQ_KIND = "SELECT seq, kind FROM journal ORDER BY seq"


def run(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], env=OFF)
    return result.exit_code, result.stdout, result.stderr


def ndjson(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def head(store: Path) -> int | None:
    with Journal.open(store) as journal:
        return journal.head_seq


@pytest.fixture
def lake(store: Path) -> Iterator[Store]:
    opened = Store.open(store, checkpoint_every=0, durability="none")
    yield opened
    opened.close()


def names(lake: Store) -> list[str]:
    return [projection.name for projection in lake.projections()]


# -- sql -----------------------------------------------------------------------------------


def test_sql_prints_each_format(lake: Store, store: Path) -> None:
    lake.traces.add(text="a")
    lake.traces.add(text="b")
    code, out, err = run(store, "sql", SEQ_KIND)
    assert (code, err) == (0, "")
    assert out == ("seq  kind\n1    journal.created\n2    trace.added\n3    trace.added\n")
    assert run(store, "sql", SEQ_KIND, "--format", "table") == (0, out, "")
    code, out, err = run(store, "sql", SEQ_KIND, "--format", "json")
    assert (code, err, len(out.splitlines())) == (0, "", 1)
    assert json.loads(out) == {
        "columns": [{"name": "seq", "type": "BIGINT"}, {"name": "kind", "type": "VARCHAR"}],
        "rows": [[1, "journal.created"], [2, "trace.added"], [3, "trace.added"]],
        "row_count": 3,
        "truncated": False,
        "watermark": 3,
    }
    code, out, err = run(store, "sql", SEQ_KIND, "--format", "nl")
    assert (code, err) == (0, "")
    assert ndjson(out) == [
        {"seq": 1, "kind": "journal.created"},
        {"seq": 2, "kind": "trace.added"},
        {"seq": 3, "kind": "trace.added"},
    ]
    code, out, err = run(store, "sql", SEQ_KIND, "--format", "csv")
    assert (code, out, err) == (
        0,
        '"seq","kind"\n1,"journal.created"\n2,"trace.added"\n3,"trace.added"\n',
        "",
    )


def test_sql_json_flag_is_format_json_and_format_wins(lake: Store, store: Path) -> None:
    lake.traces.add(text="a")
    as_format = run(store, "sql", SEQ_KIND, "--format", "json")
    assert as_format[0] == 0 and json.loads(as_format[1])["row_count"] == 2
    assert run(store, "sql", SEQ_KIND, "--json") == as_format
    result = CliRunner().invoke(cli, ["--store", str(store), "--json", "sql", SEQ_KIND], env=OFF)
    assert (result.exit_code, result.stdout) == (0, as_format[1])
    nl = run(store, "sql", SEQ_KIND, "--format", "nl")
    assert run(store, "sql", SEQ_KIND, "--json", "--format", "nl") == nl
    table = run(store, "sql", SEQ_KIND)
    assert run(store, "sql", SEQ_KIND, "--json", "--format", "table") == table


def test_sql_with_no_rows(store: Path) -> None:
    query = "SELECT uid FROM traces"
    assert run(store, "sql", query) == (0, "(no rows)\n", "")
    assert run(store, "sql", query, "--format", "nl") == (0, "", "")
    code, out, _ = run(store, "sql", query, "--json")
    body = json.loads(out)
    assert (code, body["rows"], body["row_count"], body["watermark"]) == (0, [], 0, 1)


def test_a_refused_query_exits_3_with_error_and_hint_only(store: Path) -> None:
    error = (
        "error: DELETE statements are refused (DELETE FROM journal); only SELECT runs\n"
        "hint: run one SELECT over the read models; see 'lakehouse sql --help' for the tables\n"
    )
    assert run(store, "sql", "DELETE FROM journal") == (3, "", error)
    code, out, err = run(store, "sql", "DELETE FROM journal", "--json")
    assert (code, err) == (3, error)
    assert json.loads(out) == {
        "ok": False,
        "error": {
            "code": "query_refused",
            "message": "DELETE statements are refused (DELETE FROM journal); only SELECT runs",
            "hint": "run one SELECT over the read models; see 'lakehouse sql --help' for the "
            "tables",
            "statement": "DELETE",
        },
    }
    assert run(store, "sql", "SELECT count(*) AS n FROM journal", "--format", "csv") == (
        0,
        '"n"\n1\n',
        "",
    )


def test_a_failing_query_exits_3(store: Path) -> None:
    code, out, err = run(store, "sql", "SELECT * FROM no_such_table")
    assert (code, out) == (3, "")
    lines = err.splitlines()
    assert lines[0] == (
        "error: the query failed: Catalog Error: Table with name no_such_table does not exist!"
    )
    assert lines[-1] == "hint: check the names with 'SHOW TABLES' and 'DESCRIBE <table>'"
    code, out, _ = run(store, "sql", "SELECT * FROM no_such_table", "--json")
    assert code == 3 and json.loads(out)["error"]["code"] == "query_failed"


def test_a_query_over_its_time_limit_exits_3(store: Path) -> None:
    slow = "SELECT count(*) FROM range(100000000000)"
    assert run(store, "sql", slow, "--timeout", "0.1") == (
        3,
        "",
        "error: the query was stopped at its time limit of 0.1 s\n"
        "hint: narrow the query: filter with WHERE, add a LIMIT, or aggregate before joining\n",
    )


@pytest.mark.parametrize(
    ("option", "message", "exit_code"),
    [
        (["--timeout", "0"], "Invalid value for '--timeout': 0.0 is not in the range x>=0.1.", 3),
        (["--max-rows", "-1"], "Invalid value for '--max-rows': -1 is not in the range x>=0.", 3),
        (["--format", "xml"], "Invalid value for '--format': 'xml' is not one of", 2),
    ],
)
def test_sql_option_errors(store: Path, option: list[str], message: str, exit_code: int) -> None:
    """A number out of its range is invalid input (3); a word that is no choice, usage (2)."""
    code, out, err = run(store, "sql", "SELECT 1", *option)
    assert (code, out) == (exit_code, "") and message in err


def test_sql_without_a_store_exits_5(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert run(missing, "sql", "SELECT 1") == (
        5,
        "",
        f"error: no store at {missing}\nhint: create one with 'lakehouse init' or pass --store "
        "PATH\n",
    )
    code, out, _ = run(missing, "sql", "SELECT 1", "--json")
    assert code == 5 and json.loads(out)["error"]["code"] == "store_not_found"


def test_as_of_seq_reads_the_past_and_refuses_beyond_the_head(lake: Store, store: Path) -> None:
    uids = [lake.traces.add(text=f"t{i}").id for i in range(3)]  # seqs 2, 3, 4
    lake.checkpoint()  # at seq 4: an as-of before it must not start from it
    lake.traces.retire(uids[0])  # seq 5
    query = "SELECT count(*) AS n, max(seq) AS top FROM journal"
    assert run(store, "sql", query, "--format", "csv", "--as-of-seq", "3") == (
        0,
        '"n","top"\n3,3\n',
        "",
    )
    live = "SELECT uid FROM traces WHERE NOT retired ORDER BY uid"
    code, out, _ = run(store, "sql", live, "--format", "json", "--as-of-seq", "3")
    assert json.loads(out)["rows"] == sorted([uid] for uid in uids[:2])
    assert json.loads(out)["watermark"] == 3
    code, out, _ = run(store, "sql", live, "--format", "nl")
    assert [row["uid"] for row in ndjson(out)] == sorted(uids[1:])
    assert run(store, "sql", query, "--as-of-seq", "6") == (
        3,
        "",
        "error: --as-of-seq 6 is outside the journal, whose head is seq 5\n"
        "hint: pass a seq from 0 to 5\n",
    )
    code, out, _ = run(store, "sql", query, "--as-of-seq", "6", "--json")
    error = json.loads(out)["error"]
    assert (code, error["code"], error["head_seq"]) == (3, "invalid_input", 5)


def test_max_rows_truncates_with_a_note_on_stderr(lake: Store, store: Path) -> None:
    lake.traces.add(text="a")
    lake.traces.add(text="b")
    code, out, err = run(store, "sql", SEQ_KIND, "--max-rows", "2", "--format", "nl")
    assert code == 0 and [row["seq"] for row in ndjson(out)] == [1, 2]
    assert err == "note: stopped after 2 rows (--max-rows)\n"
    code, out, err = run(store, "sql", SEQ_KIND, "--max-rows", "1", "--json")
    body = json.loads(out)
    assert (body["rows"], body["row_count"], body["truncated"]) == (
        [[1, "journal.created"]],
        1,
        True,
    )
    assert err == "note: stopped after 1 rows (--max-rows)\n"
    code, out, err = run(store, "sql", SEQ_KIND, "--max-rows", "3", "--json")
    assert (json.loads(out)["row_count"], json.loads(out)["truncated"], err) == (3, False, "")


def test_a_dataset_is_queryable_under_its_own_name(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("id,name,rate\n1,Ana,12.5\n2,Ben,7\n3,Cy,9.25\n")
    lake.datasets.ingest("staff", staff)
    code, out, err = run(store, "sql", "SELECT name, rate FROM staff ORDER BY id", "--format", "nl")
    assert (code, err) == (0, "")
    assert ndjson(out) == [
        {"name": "Ana", "rate": 12.5},
        {"name": "Ben", "rate": 7.0},
        {"name": "Cy", "rate": 9.25},
    ]
    code, out, _ = run(store, "sql", "SELECT name, rows FROM datasets", "--format", "csv")
    assert out == '"name","rows"\n"staff",3\n'
    lake.datasets.drop("staff")
    code, out, err = run(store, "sql", "SELECT * FROM staff")
    assert (code, out) == (3, "")
    assert err.startswith("error: the query failed: Catalog Error: Table with name staff ")


# -- trace search and playbook search ------------------------------------------------------


def search(store: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = run(store, *args, "--json")
    assert (code, err) == (0, ""), err
    return ndjson(out)


def test_trace_search_table_and_json(lake: Store, store: Path) -> None:
    ingest = lake.traces.add(text="plan the ingest of csv files", tags=["etl"]).id
    roster = lake.traces.add(text="fill the night roster", tags=["staff"]).id
    parse = lake.traces.add(text="parse csv headers", tags=["etl"]).id
    hits = search(store, "trace", "search", "fill the night roster")
    assert (hits[0]["uid"], hits[0]["score"]) == (roster, 1.0)
    assert {hit["uid"] for hit in hits} == {ingest, roster, parse}
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and scores[1] < 1.0
    assert hits[0]["text"] == "fill the night roster" and hits[0]["tags"] == ["staff"]
    assert [hit["uid"] for hit in search(store, "trace", "search", "night roster", "-k", "1")] == [
        roster
    ]
    tagged = search(store, "trace", "search", "fill the night roster", "--tag", "etl")
    assert sorted(hit["uid"] for hit in tagged) == sorted([ingest, parse])
    code, out, err = run(store, "trace", "search", "fill the night roster", "-k", "1")
    header, row = out.splitlines()
    assert (code, err) == (0, "")
    assert header.split() == ["score", "uid", "rev", "retired", "tags", "text"]
    assert row.split() == ["1.0", roster, "1", "False", "staff", "fill", "the", "night", "roster"]


def test_trace_search_hides_retired_and_superseded(lake: Store, store: Path) -> None:
    first = lake.traces.add(text="plan the ingest of csv files").id
    roster = lake.traces.add(text="fill the night roster").id
    before_retire = lake.traces.retire(roster, reason="old").seq - 1
    second = lake.traces.revise(first, text="plan the ingest of parquet files").id
    uids = [hit["uid"] for hit in search(store, "trace", "search", "fill the night roster")]
    assert uids == [second]
    hits = search(store, "trace", "search", "fill the night roster", "--include-retired")
    assert [(hit["uid"], hit["retired"]) for hit in hits] == [(roster, True), (second, False)]
    past = search(store, "trace", "search", "night roster", "--as-of-seq", str(before_retire))
    assert [(hit["uid"], hit["retired"]) for hit in past] == [(roster, False), (first, False)]
    assert run(store, "trace", "search", "x", "--as-of-seq", "99")[0] == 3


def test_trace_search_sees_changes_after_the_checkpoint(lake: Store, store: Path) -> None:
    roster = lake.traces.add(text="fill the night roster").id
    lake.traces.add(text="load the csv files")
    lake.checkpoint()  # the index now holds the roster text
    lake.traces.update(roster, text="hire more cooks")
    hits = search(store, "trace", "search", "fill the night roster")
    assert all(hit["score"] < 1.0 for hit in hits)
    [found] = [hit for hit in hits if hit["uid"] == roster]
    assert (found["text"], found["rev"]) == ("hire more cooks", 2)
    assert search(store, "trace", "search", "hire more cooks")[0]["uid"] == roster


def test_search_refusals(store: Path) -> None:
    empty = "error: the search query is empty\nhint: pass some words to search for\n"
    for group in ("trace", "playbook"):
        assert run(store, group, "search", "  ") == (3, "", empty)
        code, out, err = run(store, group, "search", "x", "-k", "0")
        assert (code, out) == (3, "")  # a number out of its range: invalid input
        assert "Invalid value for '-k': 0 is not in the range 1<=x<=1000." in err
    assert run(store, "trace", "search", "anything") == (0, "no traces found\n", "")
    assert run(store, "playbook", "search", "anything") == (0, "none found\n", "")


def test_playbook_search_table_and_json(lake: Store, store: Path) -> None:
    roster = lake.playbooks.record(
        query="who staffs the night roster", endorsed=["ada"], target_count=1
    ).id
    loads = lake.playbooks.record(
        query="which csv files load first", endorsed=["bo"], target_count=1
    ).id
    hits = search(store, "playbook", "search", "who staffs the night roster")
    assert [hit["id"] for hit in hits] == [roster, loads]
    assert hits[0]["score"] == 1.0 > hits[1]["score"]
    assert hits[0]["endorsed"] == ["ada"] and hits[0]["query"] == "who staffs the night roster"
    assert [hit["id"] for hit in search(store, "playbook", "search", "roster", "-k", "1")] == [
        roster
    ]
    code, out, _ = run(store, "playbook", "search", "who staffs the night roster", "-k", "1")
    header, row = out.splitlines()
    assert code == 0
    assert header.split() == ["score", "id", "rev", "kind", "target_count", "query"]
    assert row.split()[:5] == ["1.0", roster, "1", "answer", "1"]
    lake.playbooks.retire(roster)
    hits = search(store, "playbook", "search", "who staffs the night roster")
    assert [hit["id"] for hit in hits] == [loads]


# -- projections status and rebuild --------------------------------------------------------


def status(store: Path) -> list[dict[str, Any]]:
    code, out, err = run(store, "projections", "status", "--json")
    assert (code, err) == (0, "")
    return ndjson(out)


def test_status_before_and_after_a_checkpoint(lake: Store, store: Path) -> None:
    lake.traces.add(text="a")
    lake.traces.add(text="b")  # head 3
    fingerprints = {p.name: p.fingerprint for p in lake.projections()}
    rows = status(store)
    assert [row["projection"] for row in rows] == names(lake)
    assert {(row["state"], row["watermark"], row["lag"]) for row in rows} == {
        ("not checkpointed", 0, 3)
    }
    assert {row["projection"]: row["fingerprint"] for row in rows} == fingerprints
    assert {row["checkpoint_fingerprint"] for row in rows} == {None}
    code, out, _ = run(store, "projections", "status")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "projection",
        "state",
        "watermark",
        "lag",
        "fingerprint",
        "dead_letters",
        "error",
    ]
    assert [line.split()[0] for line in lines[1:]] == names(lake)
    assert all("not checkpointed  0          3" in line for line in lines[1:])

    assert run(store, "checkpoint", "create")[0] == 0
    rows = status(store)
    assert {(row["state"], row["watermark"], row["lag"]) for row in rows} == {("current", 3, 0)}
    assert {row["projection"]: row["checkpoint_fingerprint"] for row in rows} == fingerprints
    lake.traces.add(text="c")
    lake.traces.add(text="d")
    rows = status(store)
    assert {(row["state"], row["watermark"], row["lag"]) for row in rows} == {("current", 3, 2)}


def test_rebuild_with_nothing_stale_then_all(lake: Store, store: Path) -> None:
    lake.traces.add(text="a")
    lake.checkpoint()  # seq 2
    assert run(store, "projections", "rebuild") == (
        0,
        "every projection is current: nothing to rebuild (use --all to force)\n",
        "",
    )
    code, out, _ = run(store, "projections", "rebuild", "--json")
    assert json.loads(out) == {
        "ok": True,
        "rebuilt": [],
        "kept": names(lake),
        "checkpoint": None,
        "seq": None,
        "resumed_from": 0,
    }
    assert [c.seq for c in CheckpointStore(store).list()] == [2]
    lake.traces.add(text="b")  # seq 3
    code, out, err = run(store, "projections", "rebuild", "--all")
    assert (code, err) == (0, "")
    assert out == (
        f"rebuilt {', '.join(names(lake))} into checkpoint ckpt-00000000000000000003 at seq 3\n"
    )
    latest = CheckpointStore(store).latest_valid(verify=True)
    assert latest is not None and latest.seq == 3
    assert {(row["state"], row["lag"]) for row in status(store)} == {("current", 0)}
    code, out, _ = run(store, "sql", "SELECT count(*) AS n FROM traces", "--format", "csv")
    assert out == '"n"\n2\n'


def test_rebuild_picks_the_projection_whose_fingerprint_changed(
    lake: Store, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.traces.add(text="a")
    lake.traces.add(text="b")
    lake.checkpoint()  # seq 3
    monkeypatch.setattr(TracesProjection, "version", TracesProjection.version + 1)
    rows = {row["projection"]: row for row in status(store)}
    assert (rows["traces"]["state"], rows["traces"]["watermark"], rows["traces"]["lag"]) == (
        "stale: rebuild",
        0,
        3,
    )
    assert {row["state"] for name, row in rows.items() if name != "traces"} == {"current"}
    code, out, _ = run(store, "projections", "rebuild", "--json")
    report = json.loads(out)
    assert (code, report["rebuilt"], report["seq"]) == (0, ["traces"], 3)
    assert report["kept"] == [name for name in names(lake) if name != "traces"]
    assert {row["state"] for row in status(store)} == {"current"}
    code, out, _ = run(store, "projections", "rebuild", "playbooks", "traces", "--json")
    assert sorted(json.loads(out)["rebuilt"]) == ["playbooks", "traces"]


def test_rebuild_of_an_unknown_projection_exits_5_naming_the_known_ones(
    lake: Store, store: Path
) -> None:
    known = ", ".join(sorted(names(lake)))
    assert run(store, "projections", "rebuild", "traces", "nope", "bogus") == (
        5,
        "",
        f"error: no projection named bogus, nope\nhint: pick from: {known}\n",
    )
    assert not (store / "checkpoints").exists()


# -- checkpoint prune ----------------------------------------------------------------------


def checkpoint_seqs(store: Path) -> list[int]:
    return [checkpoint.seq for checkpoint in CheckpointStore(store).list()]


def test_prune_keeps_the_newest_valid(lake: Store, store: Path) -> None:
    for text in ("a", "b", "c", "d"):
        lake.traces.add(text=text)
        lake.checkpoint()  # seqs 2, 3, 4, 5
    assert run(store, "checkpoint", "prune", "--keep", "3") == (
        0,
        "pruned 1: ckpt-00000000000000000002\n",
        "",
    )
    assert checkpoint_seqs(store) == [3, 4, 5]
    # damage the newest: it is no longer valid, so it does not count among the kept
    newest = CheckpointStore(store).get(5)
    with open(newest.path / "tables" / "traces.parquet", "ab") as handle:
        handle.write(b"x")
    code, out, _ = run(store, "checkpoint", "prune", "--keep", "1", "--json")
    assert (code, json.loads(out)) == (0, {"ok": True, "pruned": ["ckpt-00000000000000000003"]})
    assert checkpoint_seqs(store) == [4, 5]  # the invalid one is left for `verify` to report
    assert run(store, "checkpoint", "prune", "--keep", "1") == (0, "nothing to prune\n", "")


def test_prune_keep_0_exits_3_and_deletes_nothing(lake: Store, store: Path) -> None:
    lake.checkpoint()
    assert run(store, "checkpoint", "prune", "--keep", "0") == (
        3,
        "",
        "error: prune must keep at least 1 checkpoint, not 0\n"
        "hint: the newest checkpoint covers the archived segments: keep it\n",
    )
    assert checkpoint_seqs(store) == [1]
    assert head(store) == 1
