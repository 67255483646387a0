"""catalog.json: the datasets for other tools, at <store>/projections/ and in checkpoints.

Also the reserved names: every table of every projection is a view under its own name,
so no dataset may take one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lakehouse import InvalidInput, Store
from lakehouse.catalog._manifest import (
    install_manifest,
    manifest_bytes,
    manifest_path,
    refresh_manifest,
)
from lakehouse.catalog._names import READ_MODEL_NAMES, validate_dataset_name

STAFF = "id,name,rate\n1,Ana,12.5\n2,Ben,7\n3,Cy,9.25\n"
CITIES = "id,city\n1,Oslo\n2,Lima\n"


@pytest.fixture
def lake(store: Path) -> Iterator[Store]:
    opened = Store.open(store, checkpoint_every=0, durability="none")
    yield opened
    opened.close()


def csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def on_disk(store: Path) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(manifest_path(store).read_bytes())
    return body


def from_heads(lake: Store) -> bytes:
    heads = lake.heads()
    return manifest_bytes((head for _, head in heads.all("dataset")), heads.seq)


def test_ingest_lists_the_dataset(lake: Store, store: Path, tmp_path: Path) -> None:
    done = lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    assert manifest_path(store) == store / "projections" / "catalog.json"
    head = lake.datasets.show("staff")
    body = on_disk(store)
    assert (body["format"], body["seq"]) == (1, done.seq)
    assert body["datasets"] == [
        {
            "name": "staff",
            "dataset_id": head["dataset_id"],
            "fingerprint": head["fingerprint"],
            "schema": [
                {"name": "id", "type": "int64"},
                {"name": "name", "type": "string"},
                {"name": "rate", "type": "double"},
            ],
            "files": head["files"],
            "rows": 3,
            "rev": 1,
            "seq": done.seq,
        }
    ]
    [file] = body["datasets"][0]["files"]
    assert file["rows"] == 3 and (store / file["path"]).is_file()


def test_changes_and_drops_rewrite_it(lake: Store, store: Path, tmp_path: Path) -> None:
    lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    cities = lake.datasets.ingest("cities", csv(tmp_path, "cities.csv", CITIES))
    body = on_disk(store)
    assert [d["name"] for d in body["datasets"]] == ["cities", "staff"]  # by name
    assert body["seq"] == cities.seq
    more = lake.datasets.ingest(
        "staff", csv(tmp_path, "more.csv", STAFF + "4,Di,3.5\n"), mode="replace"
    )
    [staff] = [d for d in on_disk(store)["datasets"] if d["name"] == "staff"]
    assert (staff["rev"], staff["rows"], staff["seq"]) == (2, 4, more.seq)
    dropped = lake.datasets.drop("staff")
    body = on_disk(store)
    assert body["seq"] == dropped.seq
    assert [d["name"] for d in body["datasets"]] == ["cities"]
    assert manifest_path(store).read_bytes() == from_heads(lake)


def test_a_no_op_leaves_it_alone(lake: Store, store: Path, tmp_path: Path) -> None:
    lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    lake.traces.add(text="not a dataset")  # a later seq, but no dataset changed
    before = manifest_path(store).read_bytes()
    again = lake.datasets.ingest("staff", csv(tmp_path, "copy.csv", STAFF))
    assert again.appended is False
    assert manifest_path(store).read_bytes() == before


def test_the_checkpoint_holds_the_manifest_the_heads_give(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    lake.datasets.ingest(
        "staff", csv(tmp_path, "more.csv", "id,name,rate\n4,Di,3.5\n"), mode="append"
    )
    lake.datasets.ingest("cities", csv(tmp_path, "cities.csv", CITIES))
    lake.datasets.ingest("towns", csv(tmp_path, "towns.csv", CITIES + "3,Pune\n"))
    lake.datasets.drop("towns")
    lake.traces.add(text="after the last dataset change")
    expected = from_heads(lake)
    checkpoint = lake.checkpoint()
    held = checkpoint.read_bytes("catalog.json")
    assert orjson.loads(held)["seq"] == checkpoint.seq == lake.heads().seq
    assert [d["name"] for d in orjson.loads(held)["datasets"]] == ["cities", "staff"]
    assert orjson.loads(held) == orjson.loads(expected)
    assert held == expected
    # the checkpoint, newer than the file, replaced it
    assert manifest_path(store).read_bytes() == held


def test_an_older_state_never_replaces_a_newer_file(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    done = lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    path = manifest_path(store)
    before = path.read_bytes()
    built: list[int] = []

    def build(seq: int) -> bytes:
        built.append(seq)
        return manifest_bytes([], seq)

    for older in (0, done.seq - 1, done.seq):
        install_manifest(store, lambda older=older: build(older), older)
        assert path.read_bytes() == before
    assert built == []  # not even built
    install_manifest(store, lambda: build(done.seq + 1), done.seq + 1)
    assert built == [done.seq + 1]
    assert on_disk(store) == {"format": 1, "seq": done.seq + 1, "datasets": []}


def test_an_old_checkpoint_does_not_bring_back_a_dropped_dataset(
    lake: Store, store: Path, tmp_path: Path
) -> None:
    lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    checkpoint = lake.checkpoint()
    lake.datasets.drop("staff")
    install_manifest(store, lambda: checkpoint.read_bytes("catalog.json"), checkpoint.seq)
    assert on_disk(store)["datasets"] == []


def test_a_damaged_file_is_replaced(lake: Store, store: Path, tmp_path: Path) -> None:
    lake.datasets.ingest("staff", csv(tmp_path, "staff.csv", STAFF))
    manifest_path(store).write_text("{not json")
    refresh_manifest(lake)
    assert manifest_path(store).read_bytes() == from_heads(lake)
    assert [d["name"] for d in on_disk(store)["datasets"]] == ["staff"]


def test_every_projection_table_name_is_reserved(lake: Store) -> None:
    tables = {table.name for p in lake.projections() for table in p.tables}
    assert {"traces", "journal", "datasets"} <= tables
    missing = tables - READ_MODEL_NAMES
    assert not missing, f"add {sorted(missing)} to READ_MODEL_NAMES in catalog/_names.py"
    for name in sorted(tables):
        for spelling in (name, name.upper()):
            with pytest.raises(InvalidInput, match="is taken by a built-in read model"):
                validate_dataset_name(spelling)
