"""`lakehouse demo`: every section states its facts, and a store it did not make is refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from journal import Journal


def _demo(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a real process: the demo SIGKILLs a child writer and must not share our state
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "--store", str(store), "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_tours_the_families_and_survives_the_kill(tmp_path: Path) -> None:
    store = tmp_path / "demo-store"
    done = _demo(store, "--rows", "2000")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for header in ("== 1. init", "== 2. datasets", "== 3. traces", "== 4. sessions",
                   "== 5. a writer killed", "== 6. recovery", "== 7. read models",
                   "== 8. a checkpoint"):  # fmt: skip
        assert header in out
    # datasets: the rows, idempotent re-ingest, and the refused schema change
    assert re.search(r"dataset staffing rev 1 at seq 2: 2,000 rows in [\d.]+ s \(\d+ MB/s\)", out)
    assert "rows         2,000" in out
    assert "dataset staffing rev 1: already so, nothing appended" in out
    assert "error: dataset staffing has schema fingerprint" in out
    assert "hint: compare with 'lakehouse dataset show staffing', or pass --replace" in out
    assert "(exit code 4; head seq 2 -> 2: nothing appended)" in out
    # traces: a stale --if-rev refused, a history chain of three
    assert re.search(r"error: trace trc_\w+ is at rev 2, not rev 1", out)
    assert "(a chain of 3, 0 problems)" in out
    # sessions and playbooks
    assert re.search(r"ses-demo-0002 +coordinator-small +max_iter_exhausted +3", out)
    assert "a fill playbook endorses at most 2 x target_count = 4 names, not 5" in out
    assert "(exit code 3; head seq 14 -> 14: nothing appended)" in out
    # the killed writer lost nothing it acknowledged, and the journal verifies
    assert "acknowledged records lost: 0; acknowledged traces missing: 0" in out
    assert "torn tail skipped by readers: True" in out
    assert re.search(
        r"healthy: \d+ records in 1 segments .* 1 adjudicated torn writes, 0 errors", out
    )
    # the read models: a dataset view, search, the past, a refused write
    assert re.search(r"city +people +avg_rate\n", out)
    assert re.search(r"trace\.added +\d+", out)
    assert re.search(r"0\.\d+ +trc_\w+ +1 +validate the roster: names must exist", out)
    assert re.search(r"--as-of-seq \d+ .*\ntraces\s*\n1\s*\n", out)
    assert "error: DELETE statements are refused" in out
    assert re.search(r"traces +not checkpointed +0 +\d+ +0", out)
    assert "checkpoints healthy" in out
    assert re.search(r"traces +2 current \+ \d+ tagged crash-test, 1 retired", out)
    assert "lakehouse trace list" in out
    # a second run re-creates its own store
    again = _demo(store, "--rows", "200")
    assert again.returncode == 0, again.stderr
    assert "rows         200" in again.stdout


def test_demo_refuses_a_store_it_did_not_create(tmp_path: Path) -> None:
    store = tmp_path / "precious"
    Journal.open(store, create=True).close()
    done = _demo(store, "--rows", "200")
    assert done.returncode == 2
    assert "holds a store the demo did not create" in done.stderr
    assert (store / "journal" / "segments").is_dir()  # untouched
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me\n")
    assert _demo(other).returncode == 2
    assert (other / "todo.txt").read_text() == "keep me\n"


def test_demo_runs_on_its_own_store_and_keeps_it_once_someone_else_writes(
    tmp_path: Path,
) -> None:
    """./lakehouse-demo by default (not the tour's store), with commands that run as
    printed, and a store the user wrote to after the demo is never re-created."""
    import os

    env = {**os.environ, "PATH": "/usr/bin:/bin", "LAKEHOUSE_STORE": str(tmp_path / "mine")}
    command = [sys.executable, "-m", "lakehouse.cli", "demo", "--rows", "200"]

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env
        )

    done = run(command)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("lakehouse demo on lakehouse-demo (")
    assert not (tmp_path / "mine").exists()  # $LAKEHOUSE_STORE is the user's, not the demo's
    further = done.stdout.split("== explore further")[1].splitlines()
    verify = next(line for line in further if line.endswith(" journal verify"))
    assert not verify.startswith("lakehouse ")  # not on this PATH: the path that works
    export = next(line for line in further if line.startswith("export "))
    shell = f"{export} && {verify}"
    ran = run(["/bin/sh", "-c", shell])
    assert ran.returncode == 0 and ran.stdout.startswith("healthy: "), ran.stderr

    with Journal.open(tmp_path / "lakehouse-demo") as journal:  # the user's own record
        mine = journal.append(kind="note.added", entity="note", id="n1", payload={}).seq
    before = sorted(p.name for p in (tmp_path / "lakehouse-demo/journal/segments").iterdir())
    again = run(command)
    assert again.returncode == 2
    assert f"holds 1 records the demo did not write (the first: seq {mine}, note.added)" in (
        again.stderr.replace("\n", " ")
    )
    after = sorted(p.name for p in (tmp_path / "lakehouse-demo/journal/segments").iterdir())
    assert after == before
