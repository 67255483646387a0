"""The catalog family through the Python API: ingest, register, drop, list, show, heads."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from journal import Journal
from lakehouse import Conflict, InvalidInput, NotFound, Store
from lakehouse.catalog import NAMESPACE, dataset_id
from tests.lakehouse._util import head_seq

STAFF = "id,name,rate\n1,Ana,12.5\n2,Ben,7\n3,Cy,9.25\n"


def _csv(tmp_path: Path, text: str, name: str = "staff.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _objects(store: Path) -> list[str]:
    return sorted(p.name for p in store.glob("objects/**/*.parquet"))


def _referenced(lake: Store) -> set[str]:
    return {file["path"] for _, head in lake.heads().all("dataset") for file in head["files"]}


def test_ingest_a_csv_then_show_it(lake: Store, store: Path, tmp_path: Path) -> None:
    done = lake.datasets.ingest("staff", _csv(tmp_path, STAFF))
    assert (done.entity, done.id, done.rev, done.appended) == ("dataset", "staff", 1, True)
    head = lake.datasets.show("staff")
    assert head["dataset_id"] == str(uuid.uuid5(NAMESPACE, "staff")) == dataset_id("staff")
    assert head["rows"] == 3 and head["rev"] == 1 and head["seq"] == done.seq
    assert head["schema"] == [
        {"name": "id", "type": "int64"},
        {"name": "name", "type": "string"},
        {"name": "rate", "type": "double"},
    ]
    assert len(head["fingerprint"]) == 64 and not head["dropped"]
    assert head["source"] == {"format": "csv", "file": "staff.csv", "bytes": len(STAFF)}
    [file] = head["files"]
    assert (store / file["path"]).is_file() and file["rows"] == 3
    assert pq.read_table(store / file["path"]).num_rows == 3
    assert done.to_dict()["dataset_id"] == head["dataset_id"]


def test_reingesting_identical_data_appends_nothing(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    first = lake.datasets.ingest("staff", _csv(tmp_path, STAFF))
    before = head_seq(store)
    again = lake.datasets.ingest("staff", _csv(tmp_path, STAFF, "copy.csv"))
    assert (again.id, again.rev, again.appended, again.seq) == ("staff", 1, False, None)
    assert head_seq(store) == before
    assert lake.datasets.show("staff")["seq"] == first.seq


def test_other_data_of_the_same_schema_needs_a_mode(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    lake.datasets.ingest("staff", _csv(tmp_path, STAFF))
    old, before = lake.datasets.show("staff"), head_seq(store)
    more = _csv(tmp_path, STAFF + "4,Di,3.5\n", "more.csv")
    with pytest.raises(Conflict) as caught:
        lake.datasets.ingest("staff", more)  # no mode: nothing is replaced by accident
    error = caught.value
    assert error.exit_code == 4 and error.hint is not None
    assert "--mode replace" in error.hint and "--mode append" in error.hint
    assert error.message == (
        "dataset staff holds other data (3 rows in 1 object); the new data has 4 rows"
    )
    assert head_seq(store) == before and lake.datasets.show("staff") == old
    done = lake.datasets.ingest("staff", more, mode="replace")
    head = lake.datasets.show("staff")
    assert (done.rev, done.extra["action"], head["rev"], head["rows"]) == (2, "replaced", 2, 4)
    assert head["fingerprint"] == old["fingerprint"]
    assert len(head["files"]) == 1 and head["files"] != old["files"]  # replaced, not added
    again = lake.datasets.ingest("staff", more, mode="replace")
    assert (again.appended, again.extra["action"]) == (False, "unchanged")


def test_append_adds_an_object_and_the_view_reads_them_all(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    first = lake.datasets.ingest("staff", _csv(tmp_path, STAFF), mode="append")
    assert first.extra["action"] == "created"  # append to nothing: the first object
    batch = _csv(tmp_path, "id,name,rate\n4,Di,3.5\n5,Ed,1\n", "batch.csv")
    done = lake.datasets.ingest("staff", batch, mode="append")
    head = lake.datasets.show("staff")
    assert (done.rev, done.extra["action"], done.extra["rows"], done.extra["files"]) == (
        2,
        "appended",
        5,
        2,
    )
    assert [record.kind for record in Journal.open(store).read(after=done.seq - 1)] == [
        "dataset.appended"
    ]
    assert (head["rows"], len(head["files"])) == (5, 2)
    assert [file["rows"] for file in head["files"]] == [3, 2]
    before = head_seq(store)
    again = lake.datasets.ingest("staff", batch, mode="append")  # that object is there: no-op
    assert (again.appended, again.extra["action"], head_seq(store)) == (False, "unchanged", before)
    models = lake.read_models()
    try:
        rows = models.query("SELECT id, name FROM staff ORDER BY id")
    finally:
        models.close()
    assert rows == [(1, "Ana"), (2, "Ben"), (3, "Cy"), (4, "Di"), (5, "Ed")]
    assert _referenced(lake) == {file["path"] for file in head["files"]}
    other = _csv(tmp_path, "id,city\n1,Oslo\n", "other.csv")
    with pytest.raises(Conflict, match="cannot append to dataset staff") as caught:
        lake.datasets.ingest("staff", other, mode="append")
    assert caught.value.fields["new_fingerprint"] != head["fingerprint"]
    with pytest.raises(InvalidInput, match="contradict"):
        lake.datasets.ingest("staff", other, mode="append", replace=True)
    assert head_seq(store) == before and lake.datasets.show("staff") == head
    assert lake.datasets.ingest("staff", other, replace=True).extra["action"] == "replaced"


def test_another_schema_is_a_conflict_unless_replace(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    lake.datasets.ingest("staff", _csv(tmp_path, STAFF))
    old = lake.datasets.show("staff")
    other = _csv(tmp_path, "id,city\n1,Oslo\n", "other.csv")
    before = head_seq(store)
    with pytest.raises(Conflict) as caught:
        lake.datasets.ingest("staff", other)
    error = caught.value
    assert error.exit_code == 4 and "--replace" in error.hint and "staff" in str(error)
    assert error.fields["existing_fingerprint"] == old["fingerprint"]
    assert error.fields["new_fingerprint"] != old["fingerprint"]
    assert head_seq(store) == before and lake.datasets.show("staff") == old
    done = lake.datasets.ingest("staff", other, replace=True)
    head = lake.datasets.show("staff")
    assert (done.rev, head["rev"], head["rows"]) == (2, 2, 1)
    assert head["schema"] == [{"name": "id", "type": "int64"}, {"name": "city", "type": "string"}]
    assert head["dataset_id"] == old["dataset_id"]


def test_a_stale_if_rev_is_a_conflict(lake: Store, store: Path, tmp_path: Path) -> None:
    lake.datasets.ingest("staff", _csv(tmp_path, STAFF), if_rev=0)
    before = head_seq(store)
    with pytest.raises(Conflict) as caught:
        lake.datasets.drop("staff", if_rev=3)
    assert caught.value.fields["actual_rev"] == 1 and head_seq(store) == before
    assert lake.datasets.drop("staff", if_rev=1).rev == 2


def test_drop_then_list_then_ingest_again(lake: Store, tmp_path: Path) -> None:
    lake.datasets.ingest("staff", _csv(tmp_path, STAFF))
    lake.datasets.ingest("cities", _csv(tmp_path, "city\nOslo\n", "cities.csv"))
    assert [head["name"] for head in lake.datasets.list()] == ["cities", "staff"]
    dropped = lake.datasets.drop("staff")
    assert dropped.rev == 2 and lake.datasets.show("staff")["dropped"]
    assert [head["name"] for head in lake.datasets.list()] == ["cities"]
    assert lake.datasets.drop("staff").appended is False  # dropping twice is a no-op
    back = lake.datasets.ingest("staff", _csv(tmp_path, "x\n1\n", "x.csv"))  # any schema
    assert back.rev == 3 and not lake.datasets.show("staff")["dropped"]
    assert [head["name"] for head in lake.datasets.list()] == ["cities", "staff"]


def test_unknown_dataset_is_not_found(lake: Store, store: Path) -> None:
    before = head_seq(store)
    with pytest.raises(NotFound, match="nope") as caught:
        lake.datasets.drop("nope")
    assert caught.value.exit_code == 5 and head_seq(store) == before
    with pytest.raises(NotFound, match="nope"):
        lake.datasets.show("nope")


@pytest.mark.parametrize("name", ["1staff", "select", "traces", "a-b", ""])
def test_a_bad_name_writes_nothing(lake: Store, store: Path, tmp_path: Path, name: str) -> None:
    before = head_seq(store)
    with pytest.raises(InvalidInput) as caught:
        lake.datasets.ingest(name, _csv(tmp_path, STAFF))
    assert caught.value.fields["field"] == "name" and caught.value.exit_code == 3
    assert head_seq(store) == before and not (store / "objects").exists()


@pytest.mark.parametrize(
    ("file", "data"),
    [
        ("ragged.csv", b"a,b\n1,2\n3\n"),
        ("fake.parquet", b"not parquet at all"),
        ("missing.csv", None),
    ],
)
def test_a_bad_file_is_refused_naming_it(
    lake: Store, store: Path, tmp_path: Path, file: str, data: bytes | None
) -> None:
    lake.datasets.ingest("staff", _csv(tmp_path, STAFF))
    old, before = lake.datasets.show("staff"), head_seq(store)
    path = tmp_path / file
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(InvalidInput) as caught:
        lake.datasets.ingest("staff", path, replace=True)
    assert caught.value.fields["field"] == "file" and file in str(caught.value)
    assert head_seq(store) == before and lake.datasets.show("staff") == old
    assert _objects(store) == [Path(old["files"][0]["path"]).name]


def test_register_a_parquet_file(lake: Store, store: Path, tmp_path: Path) -> None:
    table = pa.table({"id": [1, 2], "score": [0.5, 0.25]})
    pq.write_table(table, tmp_path / "scores.parquet")
    done = lake.datasets.register("scores", tmp_path / "scores.parquet")
    head = lake.datasets.show("scores")
    assert (done.rev, head["rows"], head["source"]["format"]) == (1, 2, "parquet")
    [record] = list(Journal.open(store).read(after=done.seq - 1))
    assert record.kind == "dataset.registered" and record.payload["dataset_id"] == dataset_id(
        "scores"
    )
    assert pq.read_table(store / head["files"][0]["path"]).equals(table)
    with pytest.raises(InvalidInput) as caught:
        lake.datasets.register("other", _csv(tmp_path, STAFF))
    assert caught.value.fields["field"] == "file"
    assert _referenced(lake) == {head["files"][0]["path"]}


def test_an_idempotency_key_returns_the_first_result(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    first = lake.datasets.ingest("staff", _csv(tmp_path, STAFF), idempotency_key="k-1")
    lake.datasets.drop("staff")
    before = head_seq(store)
    again = lake.datasets.ingest("staff", _csv(tmp_path, STAFF), idempotency_key="k-1")
    assert (again.seq, again.rev, again.replayed, again.appended) == (first.seq, 1, True, False)
    assert head_seq(store) == before and lake.datasets.show("staff")["dropped"]
    with pytest.raises(Conflict, match="different command"):
        lake.datasets.drop("staff", idempotency_key="k-1")


def test_heads_from_a_checkpoint_plus_tail_equal_heads_from_genesis(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    for i in range(6):
        lake.datasets.ingest(f"d{i}", _csv(tmp_path, f"n{i}\n{i}\n", f"d{i}.csv"))
    lake.datasets.drop("d0")
    checkpoint = lake.checkpoint()
    assert checkpoint.seq == head_seq(store)
    lake.datasets.ingest("d1", _csv(tmp_path, "n1\n7\n8\n", "d1b.csv"), mode="append")
    lake.datasets.ingest("d0", _csv(tmp_path, "z\n1\n", "d0b.csv"))
    lake.datasets.drop("d2")
    with Store.open(store) as from_checkpoint:
        assert from_checkpoint.heads().snapshot is not None
        via_checkpoint = from_checkpoint.heads().tables()
        assert from_checkpoint.datasets.show("d1")["rev"] == 2
    for path in (store / "checkpoints").iterdir():
        (path / "manifest.json").unlink()  # no valid checkpoint: heads from genesis
    with Store.open(store) as from_genesis:
        assert from_genesis.heads().snapshot is None
        assert from_genesis.heads().tables() == via_checkpoint
    assert via_checkpoint["dataset"]["d0"]["rev"] == 3
    assert sorted(via_checkpoint["dataset"]) == [f"d{i}" for i in range(6)]


def test_the_dataset_cli_maps_outcomes_and_errors_to_exit_codes(
    store: Path, tmp_path: Path
) -> None:
    # the CLI group lives in this family's folder, so its smoke test lives here too
    from click.testing import CliRunner

    from lakehouse.cli import cli

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--store", str(store), "dataset", *args])
        return result.exit_code, result.stdout, result.stderr

    staff, other = _csv(tmp_path, STAFF), _csv(tmp_path, "x\n1\n", "x.csv")
    assert run("ingest", "staff", str(staff)) == (
        0,
        "dataset staff rev 1 at seq 2: created, 3 rows\n",
        "",
    )
    assert run("ingest", "staff", str(staff)) == (
        0,
        "dataset staff rev 1: unchanged, the same data\n",
        "",
    )
    code, out, err = run("ingest", "staff", str(other))
    assert (code, out) == (4, "") and err.startswith("error: dataset staff has schema")
    assert err.endswith("pass --replace to replace it\n")
    assert run("ingest", "staff", str(other), "--replace")[:2] == (
        0,
        "dataset staff rev 2 at seq 3: replaced, 1 row\n",
    )
    more = _csv(tmp_path, "x\n2\n3\n", "more.csv")
    code, out, err = run("ingest", "staff", str(more))
    assert (code, out) == (4, "") and err == (
        "error: dataset staff holds other data (1 row in 1 object); the new data has 2 rows\n"
        "hint: pass --mode replace to replace its data, or --mode append to add these rows "
        "(see 'lakehouse dataset show staff')\n"
    )
    assert run("ingest", "staff", str(more), "--mode", "append")[:2] == (
        0,
        "dataset staff rev 3 at seq 4: appended 2 rows (3 rows in 2 objects)\n",
    )
    assert run("register", "p", "--path", str(staff))[0] == 3
    assert run("drop", "nope") == (
        5,
        "",
        "error: no dataset 'nope'\nhint: list datasets with 'lakehouse dataset list'\n",
    )
    code, out, _ = run("show", "staff", "--json")
    assert code == 0 and '"rev":3' in out
    assert run("drop", "staff")[:2] == (0, "dataset staff rev 4 at seq 5\n")
    assert run("list") == (0, "no datasets\n", "")
    assert head_seq(store) == 5
