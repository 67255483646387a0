"""Nothing in a store's objects/, projections/ or caches can redirect a write or a delete.

The journal's own files are covered in tests/journal/test_symlinks.py and the checkpoints
in tests/checkpoints/test_symlinks.py. Here: dataset objects, catalog.json and its lock,
the rebuild's resume points, a repair's sweep, and the doctor, which reports a symlink or
special file anywhere in the store as damage (exit 7).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from journal import UnsafeFile
from lakehouse import Store
from lakehouse.cli import cli

CSV = "id,name\n1,Ada\n2,Grace\n"


def files_under(directory: Path) -> dict[str, bytes]:
    """Every plain file below `directory` with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "keep-me").write_text("not the store's\n")
    return path


@pytest.fixture
def staff(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    path.write_text(CSV)
    return path


@pytest.mark.parametrize("link", ["objects", "objects/datasets", "objects/datasets/staff"])
def test_ingest_refuses_an_objects_directory_that_is_a_symlink(
    lake: Store, store: Path, outside: Path, staff: Path, link: str
) -> None:
    (store / link).parent.mkdir(parents=True, exist_ok=True)
    (store / link).symlink_to(outside)
    segment = sorted((store / "journal/segments").iterdir())[-1].read_bytes()
    with pytest.raises(UnsafeFile, match=f"{link} is a symlink to {outside}"):
        lake.datasets.ingest("staff", staff)
    assert files_under(outside) == {"keep-me": b"not the store's\n"}
    assert sorted((store / "journal/segments").iterdir())[-1].read_bytes() == segment


def test_an_object_planted_as_a_symlink_is_replaced_not_trusted(
    lake: Store, store: Path, outside: Path, staff: Path
) -> None:
    info = lake.datasets.ingest("staff", staff).extra
    objects = list((store / "objects/datasets/staff").glob("*.parquet"))
    assert len(objects) == 1, info
    shutil.copy(objects[0], outside / "copy.parquet")
    objects[0].unlink()
    objects[0].symlink_to(outside / "copy.parquet")
    lake.datasets.ingest("staff", staff)  # the same data again: its object is written anew
    assert not objects[0].is_symlink() and objects[0].is_file()
    assert (outside / "copy.parquet").read_bytes() == objects[0].read_bytes()


@pytest.mark.parametrize("link", ["catalog.json", ".catalog.lock"])
def test_catalog_json_and_its_lock_are_never_written_through_a_symlink(
    lake: Store, store: Path, outside: Path, staff: Path, link: str
) -> None:
    (store / "projections").mkdir(exist_ok=True)
    target = outside / "keep-me" if link == "catalog.json" else outside / "made-through-a-link"
    (store / "projections" / link).symlink_to(target)
    with pytest.warns(UserWarning) if link == ".catalog.lock" else contextlib.nullcontext():
        outcome = lake.datasets.ingest("staff", staff)
    assert outcome.appended  # the records are durable whatever became of catalog.json
    assert files_under(outside) == {"keep-me": b"not the store's\n"}
    if link == "catalog.json":
        assert not (store / "projections/catalog.json").is_symlink()


def test_a_rebuild_never_writes_or_deletes_through_a_symlinked_cache(
    lake: Store, store: Path, outside: Path
) -> None:
    for i in range(5):
        lake.traces.add(text=f"trace {i}")
    (outside / "rebuild").mkdir()
    (outside / "rebuild" / "keep-me-too").write_text("x")
    (store / "projections").mkdir(exist_ok=True)
    (store / "projections/cache").symlink_to(outside)
    before = files_under(outside)
    result = CliRunner().invoke(cli, ["--store", str(store), "projections", "rebuild", "--all"])
    assert result.exit_code == 7, result.output
    assert result.stderr.startswith(f"error: projections/cache is a symlink to {outside}")
    assert files_under(outside) == before


def test_repair_sweeps_nothing_through_a_symlinked_cache(store: Path, outside: Path) -> None:
    scratch = outside / "doctor-1-abcd"  # what a killed verify leaves, if cache/ were real
    scratch.mkdir()
    (scratch / "state").write_text("x")
    os.utime(scratch, (0, 0))
    os.utime(scratch / "state", (0, 0))
    (store / "projections").mkdir()
    (store / "projections/cache").symlink_to(outside)
    before = files_under(outside)
    result = CliRunner().invoke(cli, ["--store", str(store), "doctor", "--repair"])
    assert result.exit_code == 7
    assert "unsafe_file: projections/cache is a symlink to" in result.stdout
    assert files_under(outside) == before


def test_the_doctor_reports_every_symlink_and_special_file(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Store.open(store)
    lake.traces.add(text="a")
    lake.checkpoint()
    lake.close()
    (store / "objects").mkdir()
    (store / "objects/planted").symlink_to("/etc/hostname")
    os.mkfifo(store / "projections/fifo")
    ckpt = next((store / "checkpoints").iterdir())
    monkeypatch.chdir(ckpt)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("sock")
        result = CliRunner().invoke(cli, ["--store", str(store), "--json", "doctor"])
    assert result.exit_code == 7
    findings = json.loads(result.stdout)["findings"]
    unsafe = sorted(f["path"] for f in findings if f["code"] == "unsafe_file")
    assert unsafe == [f"checkpoints/{ckpt.name}/sock", "objects/planted", "projections/fifo"]
    assert all(f["severity"] == "error" for f in findings if f["code"] == "unsafe_file")
