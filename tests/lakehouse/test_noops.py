"""Every update-like verb of every family: done a second time with nothing to change, it
appends nothing and says so (the outcome at the entity's current rev, no seq)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from lakehouse import Outcome, Store
from lakehouse.cli import cli
from tests.lakehouse._util import SESSION, head_seq

Verb = Callable[[Store, Path], Callable[[], Outcome]]


def _trace_update(lake: Store, _tmp: Path) -> Callable[[], Outcome]:
    uid = lake.traces.add(text="plan", tags=["b", "a"]).id
    return lambda: lake.traces.update(uid, text="plan", tags=["a", "b", "a"])


def _trace_update_nothing_given(lake: Store, _tmp: Path) -> Callable[[], Outcome]:
    uid = lake.traces.add(content={"step": 1}).id
    return lambda: lake.traces.update(uid)


def _trace_revise(lake: Store, _tmp: Path) -> Callable[[], Outcome]:
    uid = lake.traces.add(text="plan", tags=["etl"]).id
    return lambda: lake.traces.revise(uid, text="plan")


def _trace_retire(lake: Store, _tmp: Path) -> Callable[[], Outcome]:
    uid = lake.traces.add(text="plan").id
    return lambda: lake.traces.retire(uid, reason="old")


def _playbook_retire(lake: Store, _tmp: Path) -> Callable[[], Outcome]:
    pid = lake.playbooks.record(query="who?", endorsed=["ada"], target_count=1).id
    return lambda: lake.playbooks.retire(pid)


def _session_record(lake: Store, _tmp: Path) -> Callable[[], Outcome]:
    return lambda: lake.sessions.record(SESSION)


def _dataset_register(lake: Store, tmp: Path) -> Callable[[], Outcome]:
    path = tmp / "staff.parquet"
    pq.write_table(pa.table({"id": [1, 2], "name": ["ada", "grace"]}), path)
    return lambda: lake.datasets.register("staff", path, replace=True)


def _dataset_ingest(lake: Store, tmp: Path) -> Callable[[], Outcome]:
    path = tmp / "staff.csv"
    path.write_text("id,name\n1,ada\n2,grace\n")
    return lambda: lake.datasets.ingest("staff", path)


def _dataset_drop(lake: Store, tmp: Path) -> Callable[[], Outcome]:
    path = tmp / "staff.csv"
    path.write_text("id,name\n1,ada\n")
    lake.datasets.ingest("staff", path)
    return lambda: lake.datasets.drop("staff")


VERBS: dict[str, Verb] = {
    "trace update": _trace_update,
    "trace update, nothing given": _trace_update_nothing_given,
    "trace revise": _trace_revise,
    "trace retire": _trace_retire,
    "playbook retire": _playbook_retire,
    "session record": _session_record,
    "dataset register": _dataset_register,
    "dataset ingest": _dataset_ingest,
    "dataset drop": _dataset_drop,
}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_nothing_to_change_appends_nothing(
    lake: Store, store: Path, tmp_path: Path, verb: str
) -> None:
    again = VERBS[verb](lake, tmp_path)
    first = again()  # for trace update and revise already a no-op: the body is as given
    before = head_seq(store)
    outcome = again()
    assert (outcome.appended, outcome.replayed, outcome.seq) == (False, False, None)
    assert head_seq(store) == before
    entity = {"trace": lake.traces.get, "playbook": lake.playbooks.show}.get(outcome.entity)
    if entity is not None:
        assert entity(outcome.id)["rev"] == outcome.rev == first.rev


def test_a_trace_update_that_changes_something_still_appends(lake: Store) -> None:
    uid = lake.traces.add(content={"a": 1}, tags=["x"]).id
    # 1 and true are equal in Python but not in JSON: a change
    assert lake.traces.update(uid, content={"a": True}).rev == 2
    assert lake.traces.update(uid, tags=["x", "y"]).rev == 3
    assert lake.traces.update(uid, tags=[]).rev == 4
    assert lake.traces.update(uid, text="now text").rev == 5
    revised = lake.traces.revise(uid, text="now text", tags=["z"])
    assert (revised.appended, revised.rev) == (True, 1) and revised.id != uid


def test_the_cli_says_a_no_op_update_appended_nothing(store: Path) -> None:
    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--store", str(store), "trace", *args])
        return result.exit_code, result.stdout

    code, out = run("add", "--text", "plan", "--tag", "etl")
    assert code == 0
    uid = out.split()[1]
    before = head_seq(store)
    for args in (["--text", "plan"], ["--tag", "etl"], []):
        assert run("update", uid, *args) == (
            0,
            f"trace {uid} rev 1: already so, nothing appended\n",
        )
    assert run("revise", uid) == (0, f"trace {uid} rev 1: already so, nothing appended\n")
    assert head_seq(store) == before
