"""Archiving: `Journal.archive(upto=)`, `read(archived=True)` and `lakehouse segments archive`.

Archiving moves the sealed segments whose records all have seq <= `upto` (the newest
checkpoint's seq, for the CLI) to journal/archive/: never the active segment, never
deleting, bytes unchanged. Plain reads from before the archive then report a `gap`; reads
with `archived=True`, folds of the read models and rebuilds from genesis still see every
record exactly once. Which segment holds which seqs is worked out here by parsing the
files' lines, not with the journal's own listing.
"""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from journal import Journal
from journal import _journal as journal_impl
from lakehouse import Store
from lakehouse._rebuild import rebuild
from lakehouse.cli import cli

SMALL = 4096  # bytes per segment: a few records each, so there are many segments
PAD = "x" * 300
# small segments, no automatic checkpoints, no fsync per append (the tests never crash)
FAST: dict[str, Any] = {"segment_bytes": SMALL, "checkpoint_every": 0, "durability": "none"}


def seqs_in(path: Path) -> list[int]:
    """The seqs of the records in a segment file, from its lines alone."""
    return [orjson.loads(line)["seq"] for line in path.read_bytes().split(b"\n") if line]


def live_files(root: Path) -> list[Path]:
    return sorted((root / "journal" / "segments").glob("*.jsonl"))


def archived_files(root: Path) -> list[Path]:
    return sorted((root / "journal" / "archive").glob("*.jsonl"))


def covered(root: Path, upto: int) -> list[str]:
    """The sealed segments (all but the newest live one) whose every seq is <= upto."""
    return [path.name for path in live_files(root)[:-1] if max(seqs_in(path)) <= upto]


def contents(paths: list[Path]) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in paths}


@pytest.fixture
def segmented(tmp_path: Path) -> Iterator[Journal]:
    """A journal of 40 records over several small segments."""
    opened = Journal.open(tmp_path / "j", create=True, segment_bytes=SMALL, durability="none")
    for i in range(2, 41):
        opened.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i, "pad": PAD})
    assert len(live_files(opened.root)) >= 5
    yield opened
    opened.close()


def ends(root: Path) -> list[int]:
    """The last seq of each sealed segment."""
    return [max(seqs_in(path)) for path in live_files(root)[:-1]]


@pytest.mark.parametrize("where", ["first-end", "just-below-an-end", "an-end", "head"])
def test_archive_moves_exactly_the_covered_sealed_segments(segmented: Journal, where: str) -> None:
    root = segmented.root
    last = ends(root)
    upto = {
        "first-end": last[0],
        "just-below-an-end": last[2] - 1,
        "an-end": last[2],
        "head": segmented.head_seq or 0,
    }[where]
    before = contents(live_files(root))
    active = live_files(root)[-1].name
    expected = covered(root, upto)
    assert expected  # every case moves something

    moved = segmented.archive(upto=upto)

    assert [segment.name for segment in moved] == expected
    assert [segment.path for segment in moved] == [segmented.archive_dir / n for n in expected]
    assert contents(archived_files(root)) == {name: before[name] for name in expected}
    assert contents(live_files(root)) == {n: d for n, d in before.items() if n not in expected}
    assert active in {path.name for path in live_files(root)}
    assert segmented.archive(upto=upto) == []  # nothing left to move at that seq


def test_reads_after_an_archive(segmented: Journal) -> None:
    head = segmented.head_seq
    every = [(r.seq, r.payload.get("i")) for r in segmented.read(after=0)]
    moved = segmented.archive(upto=ends(segmented.root)[2])
    first_live = moved[-1].first_seq + len(seqs_in(moved[-1].path))

    plain = segmented.read(after=0)
    records = list(plain)
    assert plain.gap is True
    assert [r.seq for r in records] == list(range(first_live, (head or 0) + 1))

    whole = segmented.read(after=0, archived=True)
    assert [(r.seq, r.payload.get("i")) for r in whole] == every
    assert whole.gap is False and whole.findings == []
    middle = segmented.read(after=5, archived=True, limit=4)
    assert [r.seq for r in middle] == [6, 7, 8, 9]
    assert [r.seq for r in segmented.read(after=first_live - 2, archived=True, limit=3)] == [
        first_live - 1,
        first_live,
        first_live + 1,
    ]
    report = segmented.scan()
    assert report.healthy and report.head_seq == head
    assert segmented.stats()["archived_segments"] == len(moved)


def test_appends_and_later_archives_go_on(segmented: Journal) -> None:
    first = segmented.archive(upto=segmented.head_seq or 0)
    for i in range(41, 81):
        segmented.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i, "pad": PAD})
    assert segmented.head_seq == 80
    second = segmented.archive(upto=80)
    assert second and not {s.name for s in first} & {s.name for s in second}
    assert [r.seq for r in segmented.read(after=0, archived=True)] == list(range(1, 81))
    assert len(archived_files(segmented.root)) == len(first) + len(second)
    assert len(live_files(segmented.root)) == 1  # only the active one is left


def test_a_reader_listed_before_the_archive_still_reads_everything(segmented: Journal) -> None:
    reading = segmented.read(after=0, archived=True)  # lists the segments now
    assert segmented.archive(upto=segmented.head_seq or 0)
    assert [r.seq for r in reading] == list(range(1, 41))
    assert reading.findings == []


def test_archive_fsyncs_both_directories_after_the_renames(
    segmented: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, list[str]]] = []
    real = journal_impl.fsync_dir

    def recording(directory: Path) -> None:
        calls.append((Path(directory), [p.name for p in archived_files(segmented.root)]))
        real(directory)

    monkeypatch.setattr(journal_impl, "fsync_dir", recording)
    assert segmented.archive(upto=0) == [] and calls == []  # nothing moved, nothing to sync
    moved = [segment.name for segment in segmented.archive(upto=segmented.head_seq or 0)]
    assert [directory for directory, _ in calls] == [
        segmented.archive_dir,
        segmented.segments_dir,
    ]
    assert all(listing == moved for _, listing in calls)  # every rename came first


def test_a_failed_fsync_leaves_each_segment_under_exactly_one_name(
    segmented: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = segmented.root
    before = contents(live_files(root))

    def failing(directory: Path) -> None:
        raise OSError(errno.EIO, "Input/output error", str(directory))

    monkeypatch.setattr(journal_impl, "fsync_dir", failing)
    with pytest.raises(OSError, match="Input/output error"):
        segmented.archive(upto=segmented.head_seq or 0)
    monkeypatch.undo()
    live, archived = contents(live_files(root)), contents(archived_files(root))
    assert not live.keys() & archived.keys()
    assert live | archived == before
    with Journal.open(root) as reopened:
        assert [r.seq for r in reopened.read(after=0, archived=True)] == list(range(1, 41))
        assert reopened.scan().healthy and reopened.head_seq == 40


def test_the_head_survives_archiving_behind_an_empty_active_segment(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j", create=True, segment_bytes=SMALL) as journal:
        for i in range(2, 7):
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i})
        assert journal.roll() is not None  # the active segment is now empty
        assert [s.name for s in journal.archive(upto=6)] == ["00000000000000000001.jsonl"]
        assert journal.stats()["head_seq"] == 6
        assert journal.head_seq == 6


# -- the store and `lakehouse segments archive` --------------------------------------------


def cli_run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--store", str(root), *args], env={"LAKEHOUSE_CHECKPOINT_EVERY": "0"}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Store]:
    """A store of 50 traces over small segments, with a checkpoint at seq 41."""
    opened = Store.open(tmp_path / "s", create=True, **FAST)
    for i in range(40):
        opened.traces.add(text=f"trace {i} {PAD}")
    assert opened.checkpoint().seq == 41
    for i in range(40, 50):
        opened.traces.add(text=f"trace {i} {PAD}")
    yield opened
    opened.close()


def count(lake: Store, sql: str) -> tuple[object, ...]:
    models = lake.read_models()
    try:
        return tuple(models.query(sql)[0])
    finally:
        models.close()


def test_segments_archive_moves_what_the_latest_checkpoint_covers(lake: Store) -> None:
    root = lake.root
    expected = covered(root, 41)
    assert expected and len(expected) < len(live_files(root)) - 1  # one sealed one is kept
    before = contents(live_files(root))
    every = [(r.seq, r.kind, r.id) for r in lake.journal.read(after=0)]

    code, out, err = cli_run(root, "segments", "archive")
    assert (code, err) == (0, "")
    assert out == f"archived {len(expected)} segments covered by ckpt-00000000000000000041\n"
    assert contents(archived_files(root)) == {name: before[name] for name in expected}
    assert sorted(before) == sorted(p.name for p in [*archived_files(root), *live_files(root)])
    code, out, _ = cli_run(root, "segments", "archive", "--json")
    assert json.loads(out) == {
        "ok": True,
        "checkpoint": "ckpt-00000000000000000041",
        "archived": [],
    }
    code, out, _ = cli_run(root, "segments", "list", "--json")
    states = {row["name"]: row["state"] for row in json.loads(out)["segments"]}
    assert {name for name, state in states.items() if state == "archived"} == set(expected)

    # the read models, a fold from genesis and a full rebuild all see the whole history
    assert [(r.seq, r.kind, r.id) for r in lake.journal.read(after=0, archived=True)] == every
    assert count(lake, "SELECT count(*), min(seq), max(seq) FROM journal") == (51, 1, 51)
    assert cli_run(root, "sql", "SELECT count(*) AS n FROM journal", "--format", "csv") == (
        0,
        '"n"\n51\n',
        "",
    )
    early = ("sql", "SELECT count(*) AS n FROM traces", "--format", "csv", "--as-of-seq", "6")
    assert cli_run(root, *early) == (0, '"n"\n5\n', "")  # no checkpoint that early: genesis
    report = rebuild(lake, everything=True)
    assert report.checkpoint is not None and report.checkpoint.seq == 51
    assert count(lake, "SELECT count(*), min(seq), max(seq) FROM journal") == (51, 1, 51)
    assert count(lake, "SELECT count(*) FROM traces") == (50,)
    # the new checkpoint still lists the archived segments, hashed from the archive
    listed = report.checkpoint.meta["segments"]
    for path in archived_files(root):
        assert listed[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert cli_run(root, "journal", "verify")[0] == 0


def test_segments_archive_without_a_checkpoint_exits_5(tmp_path: Path) -> None:
    root = tmp_path / "s"
    with Store.open(root, create=True, **FAST) as lake:
        for i in range(20):
            lake.traces.add(text=f"trace {i} {PAD}")
    before = contents(live_files(root))
    error = (
        "error: no valid checkpoint covers any segment\n"
        "hint: run 'lakehouse checkpoint create' first\n"
    )
    assert cli_run(root, "segments", "archive") == (5, "", error)
    code, out, err = cli_run(root, "segments", "archive", "--json")
    assert (code, err, json.loads(out)["error"]["code"]) == (5, error, "not_found")
    assert contents(live_files(root)) == before and archived_files(root) == []


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_damaged_latest_checkpoint_exits_7_and_moves_nothing(lake: Store) -> None:
    root = lake.root
    before = contents(live_files(root))
    latest = lake.checkpoints.latest_valid()
    assert latest is not None
    table = latest.path / "tables" / "journal.parquet"
    flip(table, table.stat().st_size // 2)  # same size: the cheap check still passes
    assert lake.checkpoints.latest_valid() == latest

    code, out, err = cli_run(root, "segments", "archive")
    assert (code, out) == (7, "")
    lines = err.splitlines()
    assert lines[0].startswith(f"error: {latest.name}/tables/journal.parquet has sha256 ")
    assert lines[-1] == (
        f"hint: {latest.name} is damaged: 'lakehouse checkpoint create' makes a new one "
        "from the newest sound checkpoint and the journal"
    )
    assert contents(live_files(root)) == before and archived_files(root) == []


def test_following_the_hint_of_a_refused_archive_does_not_keep_the_damage(lake: Store) -> None:
    root = lake.root
    target = next(t for t in lake.traces.list() if t["text"].startswith("trace 5 "))
    latest = lake.checkpoints.latest_valid()
    assert latest is not None
    heads = latest.path / "heads" / "trace.json"
    flip(heads, heads.read_bytes().index(b"trace 5 ") + 6)  # "trace 5" -> "trace 4"
    assert cli_run(root, "segments", "archive")[0] == 7
    assert cli_run(root, "checkpoint", "create")[0] == 0  # what the hint says to do
    assert cli_run(root, "segments", "archive")[0] == 0
    with Store.open(root, checkpoint_every=0) as fresh:
        assert fresh.traces.get(target["uid"])["text"] == target["text"]


def test_sealed_lists_every_segment_but_the_active_one_with_its_last_seq(tmp_path: Path) -> None:
    with Journal.open(tmp_path, create=True, segment_bytes=4096) as journal:
        for i in range(60):
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"pad": "x" * 200})
        live = journal.segments()[0]
        assert len(live) >= 3
        journal.archive(upto=live[1].first_seq - 1)
        archived = journal.archived()[0]
        assert [s.name for s in archived] == [live[0].name]
        sealed = journal.sealed()
        every = [*archived, *journal.segments()[0]]
        assert [s.name for s, _ in sealed] == [s.name for s in every[:-1]]
        assert [last for _, last in sealed] == [s.first_seq - 1 for s in every[1:]]
        assert journal.sealed_upto() == every[-1].first_seq - 1
    assert Journal.exists(tmp_path) and not Journal.exists(tmp_path / "elsewhere")
