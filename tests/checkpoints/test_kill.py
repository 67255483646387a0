"""SIGKILL a child creating checkpoint 20 over a whole 10 at each step of the protocol.

The child patches `checkpoints._write._step` to SIGKILL itself at the n-th call of one
named point (and, in one case, inside a caller's callback halfway through its file).
Afterwards: `latest_valid()` is exactly the old checkpoint before the rename and exactly
the new one from the rename on, every file of it verifies and holds its own seq's bytes
(never a mix), the temp dir of an unfinished create is a stray that `strays()` and
`scan()` name and `list()` ignores, and creating the checkpoint again succeeds.

A second scenario starts with an invalid ``ckpt-20`` (its manifest lost): a kill after
it was set aside leaves it under ``.invalid-ckpt-20-*``, whole, and never deleted.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from checkpoints import CheckpointStore
from checkpoints._write import STEPS
from tests.checkpoints._util import FILE_COUNT, assert_whole, content, files_for

REPO = Path(__file__).resolve().parents[2]
OLD, NEW = 10, 20
CHILD = """
import os, signal, sys
from pathlib import Path

import checkpoints._write
from checkpoints import CheckpointStore
from tests.checkpoints._util import files_for

root, seq, stop, nth = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
shared = sys.argv[5] == "shared"
seen = 0


def kill_at(name):
    global seen
    seen += name == stop
    if seen == nth and name == stop:
        print("at", name, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


checkpoints._write._step = kill_at
store = CheckpointStore(root)
if shared:  # every file of the checkpoint before, shared (hard links), and a layer of its own
    old = store.get(10)
    files = {name: old.shared(name) for name in old.files}
    files[f"tables/traces.{seq}.parquet"] = b"the layer of the new checkpoint"
    meta = {"shares": 10}
else:
    files, meta = files_for(seq, root.parent / "src"), {"seq": seq}
if stop == "callback":  # the caller's callback dies halfway through its file
    def half(path):
        path.write_bytes(b"x" * 100)
        kill_at("callback")
    files["heads/traces/00a2.json"] = half
store.create(seq, files, meta=meta)
print("done", flush=True)
"""
# (point, n-th call): every named point, the first and the last file, and a callback
POINTS = [(step, 1) for step in STEPS if step != "moved_aside"]
POINTS += [("file_written", FILE_COUNT), ("callback", 1)]
RENAMED = STEPS.index("renamed")


def _kill_child(store: Path, stop: str, nth: int, *, shared: bool = False) -> None:
    how = "shared" if shared else "fresh"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(store), str(NEW), stop, str(nth), how],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == f"at {stop}\n", "the child did not reach the point"


def _published(stop: str) -> bool:
    return stop in STEPS and STEPS.index(stop) >= RENAMED


def _check_after_kill(checkpoints: CheckpointStore, stop: str) -> None:
    latest = checkpoints.latest_valid()
    assert latest is not None
    assert latest.seq == (NEW if _published(stop) else OLD), f"killed at {stop}"
    assert_whole(latest)
    thorough = checkpoints.latest_valid(verify=True)
    assert thorough is not None and thorough.seq == latest.seq
    strays = checkpoints.strays()
    temps = [path.name for path in strays]
    listed = [c.seq for c in checkpoints.list()]
    if _published(stop):
        assert (temps, listed) == ([], [OLD, NEW])
    else:
        assert len(temps) == 1 and temps[0].startswith(".tmp-ckpt-00000000000000000020-")
        assert listed == [OLD], "list() ignores the temp dir"
        scanned = [(f.code, f.checkpoint) for f in checkpoints.scan() if f.code != "set_aside"]
        assert scanned == [("stray_temp_dir", temps[0])]


def _create_again(checkpoints: CheckpointStore, store: Path) -> None:
    made = checkpoints.create(NEW, files_for(NEW, store.parent / "src"), meta={"seq": NEW})
    assert_whole(made)
    latest = checkpoints.latest_valid(verify=True)
    assert latest is not None and latest.seq == NEW
    later = checkpoints.create(NEW + 5, files_for(NEW + 5, store.parent / "src"), meta={"seq": 25})
    assert_whole(later)


@pytest.mark.parametrize(("stop", "nth"), POINTS, ids=[f"{s}-{n}" for s, n in POINTS])
def test_a_kill_at_each_step_leaves_the_old_or_the_new_checkpoint(
    store: Path, stop: str, nth: int
) -> None:
    checkpoints = CheckpointStore(store)
    checkpoints.create(OLD, files_for(OLD, store.parent / "src"), meta={"seq": OLD})
    _kill_child(store, stop, nth)
    _check_after_kill(checkpoints, stop)
    _create_again(checkpoints, store)
    assert len(checkpoints.strays()) == (0 if _published(stop) else 1)  # left for a human


@pytest.mark.parametrize("stop", ["moved_aside", "renamed"])
def test_a_kill_after_setting_an_invalid_checkpoint_aside_keeps_it_whole(
    store: Path, stop: str
) -> None:
    checkpoints = CheckpointStore(store)
    checkpoints.create(OLD, files_for(OLD, store.parent / "src"), meta={"seq": OLD})
    invalid = checkpoints.create(NEW, {"only": b"the old bytes"})
    (invalid.path / "manifest.json").unlink()

    _kill_child(store, stop, 1)
    (aside,) = checkpoints.directory.glob(".invalid-ckpt-00000000000000000020-*")
    assert [p.name for p in aside.iterdir()] == ["only"]
    assert (aside / "only").read_bytes() == b"the old bytes"
    _check_after_kill(checkpoints, stop)
    assert ("set_aside", aside.name) in [(f.code, f.checkpoint) for f in checkpoints.scan()]
    _create_again(checkpoints, store)


SHARED_POINTS = [(step, 1) for step in STEPS if step != "moved_aside"]
SHARED_POINTS += [("file_written", FILE_COUNT + 1)]


@pytest.mark.parametrize(("stop", "nth"), SHARED_POINTS, ids=[f"{s}-{n}" for s, n in SHARED_POINTS])
def test_a_kill_while_sharing_files_leaves_both_checkpoints_whole(
    store: Path, stop: str, nth: int
) -> None:
    """A create sharing the files of the one before (hard links) killed at each step: the
    old checkpoint is whole whatever happened, the new one whole or not there, and once
    the stray is swept and the old one pruned, the new one still verifies."""
    checkpoints = CheckpointStore(store)
    checkpoints.create(OLD, files_for(OLD, store.parent / "src"), meta={"seq": OLD})
    _kill_child(store, stop, nth, shared=True)
    assert_whole(checkpoints.get(OLD))
    published = _published(stop)
    assert [c.seq for c in checkpoints.list()] == ([OLD, NEW] if published else [OLD])
    for stray in checkpoints.strays():  # what `doctor --repair` does with them
        shutil.rmtree(stray)
    assert_whole(checkpoints.get(OLD))
    if published:
        new = checkpoints.get(NEW)
        assert new.verify() == [] and new.read_bytes(f"tables/traces.{NEW}.parquet")
        assert [c.seq for c in checkpoints.prune(keep=1)] == [OLD]
        assert not (store / "checkpoints" / "ckpt-00000000000000000010").exists()
        assert new.verify() == []
        assert new.read_bytes("tables/traces.parquet") == content(OLD, "tables/traces.parquet")
