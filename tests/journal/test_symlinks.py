"""A store's contents can never send the writer's bytes outside it (journal/_safe.py).

Each case plants one hostile entry among the journal's files — a symlink to a file or a
directory outside the store, a dangling symlink, a FIFO, a second hard link — and then
appends (or archives). The write is refused with UnsafeFile (exit 7) and nothing outside
the store changes, or, for meta.json (a cache replaced by rename), the planted link is
replaced without being written through. Either way `scan` (what `journal verify` runs)
reports the entry as an error beforehand.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from journal import Journal, UnsafeFile
from lakehouse.cli import cli

SEGMENT = "00000000000000000001.jsonl"
NEXT = "00000000000000000004.jsonl"  # the name the next roll creates after seq 3


def outside_state(outside: Path) -> dict[str, bytes]:
    """Every file under `outside`, by relative path, with its bytes."""
    return {
        str(path.relative_to(outside)): path.read_bytes()
        for path in sorted(outside.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def _symlink_to_victim(relpath: str) -> Callable[[Path, Path], None]:
    def plant(root: Path, outside: Path) -> None:
        (root / relpath).unlink(missing_ok=True)
        (root / relpath).symlink_to(outside / "victim")

    return plant


def _dangling(relpath: str) -> Callable[[Path, Path], None]:
    def plant(root: Path, outside: Path) -> None:
        (root / relpath).unlink(missing_ok=True)
        (root / relpath).symlink_to(outside / "created-through-a-link")

    return plant


def _moved_out(relpath: str) -> Callable[[Path, Path], None]:
    """Move a directory (or file) outside the store and leave a symlink in its place."""

    def plant(root: Path, outside: Path) -> None:
        target = outside / Path(relpath).name
        shutil.move(root / relpath, target)
        (root / relpath).symlink_to(target)

    return plant


def _fifo(relpath: str) -> Callable[[Path, Path], None]:
    def plant(root: Path, outside: Path) -> None:
        (root / relpath).unlink()
        os.mkfifo(root / relpath)

    return plant


def _hard_link(relpath: str) -> Callable[[Path, Path], None]:
    def plant(root: Path, outside: Path) -> None:
        (root / relpath).unlink()
        os.link(outside / "victim", root / relpath)

    return plant


# (plant, the path scan names, the write refused?) — meta.json is replaced, not refused
CASES: dict[str, tuple[Callable[[Path, Path], None], str, bool]] = {
    "lock-symlink": (_symlink_to_victim("LOCK"), "LOCK", True),
    "lock-dangling": (_dangling("LOCK"), "LOCK", True),
    "lock-fifo": (_fifo("LOCK"), "LOCK", True),
    "lock-hard-link": (_hard_link("LOCK"), "LOCK", True),
    "next-segment-symlink": (
        _symlink_to_victim(f"journal/segments/{NEXT}"),
        f"journal/segments/{NEXT}",
        True,
    ),
    "next-segment-dangling": (
        _dangling(f"journal/segments/{NEXT}"),
        f"journal/segments/{NEXT}",
        True,
    ),
    "active-segment-moved-out": (
        _moved_out(f"journal/segments/{SEGMENT}"),
        f"journal/segments/{SEGMENT}",
        True,
    ),
    "active-segment-hard-link": (
        _hard_link(f"journal/segments/{SEGMENT}"),
        f"journal/segments/{SEGMENT}",
        True,
    ),
    "segments-dir-moved-out": (_moved_out("journal/segments"), "journal/segments", True),
    "journal-dir-moved-out": (_moved_out("journal"), "journal", True),
    "meta-symlink": (_symlink_to_victim("journal/meta.json"), "journal/meta.json", False),
}


def _fresh(root: Path, outside: Path) -> None:
    with Journal.open(root, create=True) as journal:
        journal.append(kind="t.added", entity="t", id="a", payload={"i": 1})
        journal.append(kind="t.added", entity="t", id="b", payload={"i": 2})
    outside.mkdir()
    # the victim holds what a hard link to the active segment would hold, so that case
    # plants a copy of the segment: an append through it would change both
    (outside / "victim").write_bytes((root / "journal/segments" / SEGMENT).read_bytes())


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_entry_is_reported_and_never_written_through(tmp_path: Path, case: str) -> None:
    plant, relpath, refused = CASES[case]
    root, outside = tmp_path / "store", tmp_path / "outside"
    _fresh(root, outside)
    plant(root, outside)
    before = outside_state(outside)

    report = Journal(root).scan()
    assert not report.healthy
    assert [f.path for f in report.findings if f.code == "unsafe_file"] == [relpath]

    journal = Journal(root, segment_bytes=1)  # every append rolls: a new segment each time
    try:
        if refused:
            with pytest.raises(UnsafeFile) as raised:
                journal.append(kind="t.added", entity="t", id="c", payload={"i": 3})
            assert raised.value.fields["path"] == relpath
            assert raised.value.exit_code == 7 and journal.stopped is None
        else:
            journal.append(kind="t.added", entity="t", id="c", payload={"i": 3})
            assert not (root / relpath).is_symlink()  # replaced, not written through
    finally:
        journal.close()
    assert outside_state(outside) == before
    assert not (outside / "created-through-a-link").exists()


def test_the_next_segment_planted_as_a_symlink_fails_trace_add_with_exit_7(
    tmp_path: Path,
) -> None:
    """The case as it was found: `trace add` wrote its records into a file elsewhere."""
    root, outside = tmp_path / "store", tmp_path / "outside"
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", str(root), "init"]).exit_code == 0
    assert runner.invoke(cli, ["--store", str(root), "trace", "add", "--text", "a"]).exit_code == 0
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"not the store's\n")
    (root / "journal/segments/00000000000000000003.jsonl").symlink_to(victim)
    segment = (root / "journal/segments" / SEGMENT).read_bytes()

    result = runner.invoke(cli, ["--store", str(root), "trace", "add", "--text", "b"])
    assert result.exit_code == 7
    assert result.stderr.startswith(
        "error: journal/segments/00000000000000000003.jsonl is a symlink to "
        f"{victim}: a store holds only plain files and directories, so it is never "
        "written through\n"
    )
    assert victim.read_bytes() == b"not the store's\n"
    assert (root / "journal/segments" / SEGMENT).read_bytes() == segment
    verify = runner.invoke(cli, ["--store", str(root), "journal", "verify"])
    assert verify.exit_code == 7 and "unsafe_file: journal/segments/0" in verify.stdout
    doctor = runner.invoke(cli, ["--store", str(root), "doctor"])
    assert doctor.exit_code == 7
    assert doctor.stdout.count("journal/segments/00000000000000000003.jsonl") == 2  # msg, hint


def test_an_archive_dir_moved_out_of_the_store_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    with Journal.open(root, create=True, segment_bytes=1) as journal:
        for i in range(3):
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i})
        outside.mkdir()
        _moved_out("journal/archive")(root, outside)
        with pytest.raises(UnsafeFile, match="journal/archive is a symlink to"):
            journal.archive(upto=3)
    assert list((outside / "archive").iterdir()) == []
    with Journal(root) as reopened:
        assert [r.seq for r in reopened.read(after=0)] == [1, 2, 3, 4]


def test_init_does_not_create_directories_through_a_symlink(tmp_path: Path) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "journal").symlink_to(outside)
    with pytest.raises(UnsafeFile, match="journal is a symlink"):
        Journal.open(root, create=True)
    assert list(outside.iterdir()) == []


def test_a_temp_name_planted_as_a_symlink_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """meta.json's temp file is created with O_EXCL: a link planted under its name (here a
    guessed name: the random part is pinned) fails the write instead of being followed."""
    import journal._files as files_module  # meta.json is written by replace_durably

    root, outside = tmp_path / "store", tmp_path / "outside"
    _fresh(root, outside)
    before = outside_state(outside)
    (root / "journal/meta.json").unlink()  # so the next writer writes it at once
    monkeypatch.setattr(files_module.secrets, "token_hex", lambda n: "feedface")
    (root / f"journal/meta.json.tmp-{os.getpid()}-feedface").symlink_to(outside / "victim")
    with Journal(root) as journal, pytest.raises(OSError, match="File exists"):
        journal.append(kind="t.added", entity="t", id="c", payload={"i": 3})
    assert outside_state(outside) == before
