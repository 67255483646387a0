"""Create, list, pick and read checkpoints: every source kind, as-of reads, lookups, prune."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkpoints import (
    FORMAT,
    CheckpointInvalid,
    CheckpointNotFound,
    CheckpointRefused,
    CheckpointStore,
    classify_entry,
    is_checkpoint_name,
)
from journal import Journal, StoreNotFound
from tests.checkpoints._util import assert_whole, expected, files_for


def test_round_trip_of_bytes_path_and_callback_files(store: Path, tmp_path: Path) -> None:
    checkpoints = CheckpointStore(store)
    made = checkpoints.create(7, files_for(7, tmp_path / "src"), meta={"seq": 7})
    assert made.path == store / "checkpoints" / "ckpt-00000000000000000007"
    assert made.name == "ckpt-00000000000000000007"
    assert made.valid and made.has_manifest and made.manifest_error is None
    assert_whole(made)
    assert {path: entry.size for path, entry in made.files.items()} == {
        path: len(data) for path, data in expected(7).items()
    }
    # the manifest on disk is what the spec says, in the order it says
    manifest = orjson.loads((made.path / "manifest.json").read_bytes())
    assert list(manifest) == ["format", "seq", "created_at", "files", "meta"]
    assert (manifest["format"], manifest["seq"], manifest["meta"]) == (FORMAT, 7, {"seq": 7})
    assert list(manifest["files"]) == sorted(expected(7))
    created = datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(created.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=5)

    (listed,) = checkpoints.list()
    latest = checkpoints.latest_valid()
    assert latest is not None and listed == latest == made
    assert checkpoints.latest_valid(verify=True) == made
    assert checkpoints.verify(7) == checkpoints.verify(made) == []
    assert checkpoints.scan() == [] and checkpoints.strays() == []
    assert (
        made.path_of("tables/traces.parquet").read_bytes() == expected(7)["tables/traces.parquet"]
    )
    # the caller's files were not moved: the Path source is still there
    assert (tmp_path / "src" / "source-7.json").exists()


def test_latest_valid_picks_the_newest_and_at_most_reads_as_of_a_seq(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    for seq in (30, 10, 20):  # creation order does not matter, the seq does
        checkpoints.create(seq, {"state": str(seq).encode()}, meta={"n": seq})
    assert [c.seq for c in checkpoints.list()] == [10, 20, 30]
    picks = {at: checkpoints.latest_valid(at_most=at) for at in (None, 30, 29, 20, 19, 10, 9)}
    assert {at: c.seq if c else None for at, c in picks.items()} == {
        None: 30,
        30: 30,
        29: 20,
        20: 20,
        19: 10,
        10: 10,
        9: None,
    }
    latest = checkpoints.latest_valid(at_most=25, verify=True)
    assert latest is not None and latest.read_bytes("state") == b"20" and latest.meta == {"n": 20}


def test_an_empty_store_has_no_checkpoints(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    assert checkpoints.list() == [] and checkpoints.strays() == [] and checkpoints.scan() == []
    assert checkpoints.latest_valid() is None and checkpoints.latest_valid(verify=True) is None
    with pytest.raises(CheckpointNotFound) as caught:
        checkpoints.verify(3)
    assert caught.value.fields == {"checkpoint": "ckpt-00000000000000000003", "seq": 3}
    assert caught.value.hint and isinstance(caught.value, LookupError)


def test_a_checkpoint_may_hold_no_files(store: Path) -> None:
    made = CheckpointStore(store).create(0, {})
    assert made.valid and made.files == {} and made.meta == {} and made.verify() == []
    assert CheckpointStore(store).latest_valid() == made


def test_lookups_of_unlisted_files_and_bad_paths_raise(store: Path) -> None:
    made = CheckpointStore(store).create(4, {"a/b.json": b"{}"})
    with pytest.raises(CheckpointNotFound, match=r"ckpt-0+4 lists no file 'a/c\.json'") as caught:
        made.read_bytes("a/c.json")
    assert caught.value.fields == {"checkpoint": made.name, "file": "a/c.json"}
    with pytest.raises(CheckpointNotFound):
        made.path_of("a")  # a directory of the checkpoint is not one of its files
    with pytest.raises(CheckpointRefused, match=r"'\.\./\.\./journal/meta\.json'"):
        made.read_bytes("../../journal/meta.json")


def test_a_checkpoint_without_manifest_holds_no_files(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    made = checkpoints.create(4, {"x": b"1"})
    (made.path / "manifest.json").unlink()
    (listed,) = checkpoints.list()
    assert (listed.has_manifest, listed.manifest, listed.files, listed.valid) == (
        False,
        None,
        {},
        False,
    )
    with pytest.raises(CheckpointInvalid, match=r"ckpt-0+4 has no manifest\.json") as caught:
        listed.read_bytes("x")
    assert caught.value.exit_code == 7 and caught.value.fields["file"] == "x"


def test_create_over_a_valid_checkpoint_keeps_it(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    first = checkpoints.create(9, {"x": b"first"}, meta={"n": 1})
    calls: list[Path] = []
    again = checkpoints.create(9, {"x": b"second", "y": calls.append}, meta={"n": 2})
    assert again == first and again.read_bytes("x") == b"first" and again.meta == {"n": 1}
    assert calls == [], "a valid checkpoint at that seq was there: nothing is written"
    assert checkpoints.strays() == [] and len(checkpoints.list()) == 1


def test_create_needs_an_existing_store_root(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound, match="no store at"):
        CheckpointStore(tmp_path / "nowhere").create(1, {"x": b""})
    assert not (tmp_path / "nowhere").exists()


def test_prune_keeps_the_newest_valid_ones_and_never_touches_the_journal(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    with Journal.open(store) as journal:
        journal.append(kind="t.added", entity="t", id="a", payload={})
    segments = {p.name: p.read_bytes() for p in (store / "journal").rglob("*") if p.is_file()}
    for seq in (1, 2, 3, 4, 5, 6):
        checkpoints.create(seq, {"s": str(seq).encode()})
    (checkpoints.get(5).path / "s").write_bytes(b"")  # 5 is invalid now (size mismatch)
    (checkpoints.get(2).path / "manifest.json").unlink()  # and so is 2

    pruned = checkpoints.prune(keep=2)
    assert [c.seq for c in pruned] == [1, 3]
    assert [(c.seq, c.valid) for c in checkpoints.list()] == [
        (2, False),  # invalid ones stay for scan to report
        (4, True),
        (5, False),
        (6, True),
    ]
    assert checkpoints.strays() == []
    assert checkpoints.prune(keep=2) == []  # nothing left to prune
    after = {p.name: p.read_bytes() for p in (store / "journal").rglob("*") if p.is_file()}
    assert after == segments


@pytest.mark.parametrize("keep", [0, -1])
def test_prune_refuses_to_keep_nothing(store: Path, keep: int) -> None:
    checkpoints = CheckpointStore(store)
    checkpoints.create(1, {"s": b"1"})
    with pytest.raises(CheckpointRefused, match="keep at least 1"):
        checkpoints.prune(keep=keep)
    assert [c.seq for c in checkpoints.list()] == [1]


_NAMES = st.text(alphabet="abcxyz019_-.", min_size=1, max_size=8).filter(
    lambda name: name not in (".", "..")
)
_TREES = st.dictionaries(
    st.lists(_NAMES, min_size=1, max_size=3).map("/".join),
    st.binary(max_size=300),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(tree=_TREES, meta=st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1)))
def test_any_file_tree_round_trips(tree: dict[str, bytes], meta: dict[str, object]) -> None:
    """Whatever clean paths and bytes go in come back out, or the layout is refused."""
    with tempfile.TemporaryDirectory() as root:
        checkpoints = CheckpointStore(root)
        clash = any(other.startswith(path + "/") for path in tree for other in tree)
        if clash:
            with pytest.raises(CheckpointRefused):
                checkpoints.create(1, dict(tree), meta=meta)
            assert not Path(root, "checkpoints").exists() or checkpoints.list() == []
            return
        made = checkpoints.create(1, dict(tree), meta=meta)
        assert made.verify() == [] and made.meta == meta
        assert {path: made.read_bytes(path) for path in made.files} == tree


def test_checkpoint_names_entries_and_the_newest_seq_by_name(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    assert checkpoints.newest_seq() == 0 and checkpoints.seqs() == []
    for seq in (3, 12):
        checkpoints.create(seq, {"a.txt": b"a"})
    (checkpoints.directory / ".tmp-ckpt-00000000000000000020-ab12").mkdir()
    assert checkpoints.seqs() == [3, 12] and checkpoints.newest_seq() == 12
    assert is_checkpoint_name("ckpt-00000000000000000003") and not is_checkpoint_name("ckpt-3")
    assert [classify_entry(path.name) for path in sorted(checkpoints.directory.iterdir())] == [
        "stray",
        "checkpoint",
        "checkpoint",
    ]
    assert classify_entry(".invalid-ckpt-00000000000000000003-ab12") == "set_aside"
    assert classify_entry("notes.txt") == "unknown"


@pytest.mark.parametrize(("written", "valid"), [(1, True), (2, True), (3, False), (0, False)])
def test_formats_one_and_two_are_read_and_no_other(store: Path, written: int, valid: bool) -> None:
    """Format 2 (files shared, tables in layers) is what this code writes; a checkpoint of
    format 1 is still read, and one of a format it does not know is no checkpoint."""
    made = CheckpointStore(store).create(5, {"a.txt": b"a"}, meta={"seq": 5})
    manifest_path = made.path / "manifest.json"
    manifest = orjson.loads(manifest_path.read_bytes())
    assert manifest["format"] == FORMAT == 2
    manifest["format"] = written
    manifest_path.write_bytes(orjson.dumps(manifest))
    loaded = CheckpointStore(store).get(5)
    assert loaded.valid is valid
    if not valid:
        assert (
            loaded.manifest_error == f"manifest.json has format {written}; this code reads 1 and 2"
        )
