"""Read models beside other processes: a writer, rebuilds killed at each step, archiving.

Readers open an in-memory DuckDB over the latest checkpoint's Parquet plus the journal
after it, while other processes append, checkpoint, rebuild (replacing the checkpoint at
the same seq), prune and archive. The children are ``tests/projections/_child.py``;
every answer a reader gives is checked against the raw journal records up to its
watermark, never against the projections themselves.

1. Readers beside a writer: a reader child opens and checks read models in a loop
   (holding each open across the next open) and the parent runs ``lakehouse sql`` in a
   loop, while a writer child mutates, checkpoints, rebuilds, prunes and archives. No
   error at all, every answer consistent with its watermark. Two deterministic cases pin
   the races: read models held open across a replace and a prune, and checkpoints
   replaced or pruned between a reader listing them and opening them.
2. A rebuild SIGKILLed at each named step of its checkpoint writes (the resume point's
   and the final one's, `checkpoints._write._step`) and at records of its fold: readers
   (fresh read models and ``lakehouse sql``) give the answers they gave before, stray temp
   dirs are ignored by readers and named by `scan`, the next rebuild resumes where it
   should and finishes, and the digests equal those of a clean rebuild.
3. ``archive`` racing a reader from genesis (``Journal.read(after=0, archived=True)``):
   every record exactly once, in a free-running race and with the reader paused inside
   its segment listing and at every segment boundary.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from checkpoints import CheckpointStore
from journal import Journal, Record
from lakehouse import Store
from lakehouse._rebuild import rebuild
from lakehouse.cli import cli as lakehouse_cli
from tests.projections._child import (
    CLI_QUERY,
    History,
    check,
    expected_cli,
)

REPO = Path(__file__).resolve().parents[2]
SEGMENT_BYTES = 4096  # a roll every ~15 records: many segments to archive
CHILD = (sys.executable, "-m", "tests.projections._child")
JSON = ("--format", "json")
CLI_READS = 6  # `lakehouse sql` runs during a race (each is ~0.4 s of CPU)


class Child:
    """A child process of _child.py; stdout and stderr go to files, so it never blocks."""

    def __init__(self, workdir: Path, role: str, store: Path, args: tuple[str, ...]) -> None:
        self.out, self.err = workdir / "stdout", workdir / "stderr"
        self.cursor = 0
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [*CHILD, role, str(store), *args],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
            )

    def lines(self) -> list[str]:
        """The whole lines printed so far."""
        return self.out.read_text().split("\n")[:-1]

    def next_line(self, timeout: float = 60.0) -> str:
        """The next line not yet returned, waiting for the child to print it."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines()
            if len(lines) > self.cursor:
                self.cursor += 1
                return lines[self.cursor - 1]
            if self.proc.poll() is not None:
                raise AssertionError(f"child exited {self.proc.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"child printed nothing new in {timeout} s")
            time.sleep(0.002)  # polling a file for output: it orders nothing

    def wait_for(self, prefix: str) -> str:
        """The next line starting with `prefix` (lines before it are skipped)."""
        while not (line := self.next_line()).startswith(prefix):
            pass
        return line

    def send(self, line: str = "go") -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 300.0) -> int:
        """Close stdin and wait for the child; its exit status (negative: that signal)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        """What the child wrote to stderr (a traceback, if it crashed)."""
        return self.err.read_text()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Start _child.py roles; any child still running at teardown is killed."""
    children: list[Child] = []

    def start(role: str, store: Path, *args: str) -> Child:
        workdir = tmp_path / f"child-{len(children)}-{role}"
        workdir.mkdir()
        children.append(Child(workdir, role, store, args))
        return children[-1]

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.finish(timeout=10)


def _seed(root: Path, rng: random.Random, *, traces: int = 40) -> int:
    """Traces (updated, revised, retired) and playbooks, a checkpoint, then a tail; the head."""
    with Store.open(root, checkpoint_every=0, segment_bytes=SEGMENT_BYTES) as store:
        uids = [store.traces.add(text=f"trace {i} seeded").id for i in range(traces)]
        for uid in rng.sample(uids, traces // 4):
            store.traces.update(uid, text=f"trace {uid} updated", tags=["u"])
        revised = rng.sample(uids, traces // 8)
        for uid in revised:
            store.traces.revise(uid, text=f"trace {uid} revised")
        for uid in rng.sample([u for u in uids if u not in revised], traces // 8):
            store.traces.retire(uid, reason="seeded")
        ids = [
            store.playbooks.record(query=f"q{i}", endorsed=uids[i : i + 2], target_count=2).id
            for i in range(traces // 4)
        ]
        store.playbooks.retire(ids[0])
        store.checkpoint()
        for i in range(traces // 4):
            store.traces.add(text=f"trace {i} after the checkpoint")
        return store.journal.head_seq or 0


def _records(root: Path) -> list[Record]:
    """Every record, archived ones too; the seqs must be exactly 1..N and the scan healthy."""
    with Journal.open(root) as journal:
        records = list(journal.read(archived=True))
        report = journal.scan()
    seqs = [record.seq for record in records]
    assert seqs == list(range(1, len(records) + 1)), "the seqs are not exactly 1..N"
    assert records[0].kind == "journal.created"
    assert report.healthy, report.to_dict()
    return records


def _sql(root: Path, query: str = CLI_QUERY) -> dict[str, Any]:
    """`lakehouse sql QUERY --format json` in a subprocess: the parsed JSON, or fail."""
    return _sql_result(_sql_start(root, query))


def _sql_start(root: Path, query: str = CLI_QUERY) -> subprocess.Popen[bytes]:
    """Start `lakehouse sql QUERY --format json` (collect it with `_sql_result`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "--store", str(root), "sql", query, *JSON],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _sql_result(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and not err, err.decode()
    result: dict[str, Any] = orjson.loads(out)
    return result


def _named(result: dict[str, Any]) -> dict[str, Any]:
    """The one row of a `lakehouse sql` result by column name."""
    (row,) = result["rows"]
    return {column["name"]: value for column, value in zip(result["columns"], row, strict=True)}


def _digest(root: Path) -> dict[str, str]:
    """The state digest of fresh read models."""
    with Store.open(root) as store:
        models = store.read_models()
        try:
            return models.state_digest()
        finally:
            models.close()


# -- 1. readers beside a writer -------------------------------------------------------------


def _race(root: Path, spawn: Callable[..., Child], seed: int, *, ops: int, reads: int) -> None:
    _seed(root, random.Random(seed))
    reader = spawn("reader", root, "--min-reads", str(reads))
    reader.wait_for("ready")
    writer = spawn("writer", root, "--ops", str(ops), "--seed", str(seed))
    writer.send()
    cli = []
    while writer.proc.poll() is None and len(cli) < CLI_READS:  # each costs a process
        cli.append(_sql(root))
    assert writer.finish() == 0, writer.stderr()
    cli.append(_sql(root))
    reader.send("stop")
    assert reader.finish() == 0, reader.stderr()

    lines = [orjson.loads(line) for line in reader.lines() if line.startswith("{")]
    errors = [line["error"] for line in lines if "error" in line]
    assert not errors, f"{len(errors)} reader errors; the first:\n{errors[0]}"
    records = _records(root)
    _check_cli(root, records, cli)
    watermarks = {line["w"] for line in lines}
    checkpoints = {seq for line in lines for seq in line["bases"]}
    ops_done = [line.split() for line in writer.lines()]
    print(
        f"{len(lines)} reads at {len(watermarks)} watermarks over {len(checkpoints)} "
        f"checkpoints, {len(cli)} lakehouse sql runs, {len(ops_done)} writer operations "
        f"({sum(op[1] in ('rebuild', 'replace') for op in ops_done)} rebuilds), "
        f"{len(records)} records"
    )
    assert len(lines) >= reads and len(ops_done) == ops
    assert len(watermarks) >= 5, "the reader did not run while the writer wrote"
    assert len(checkpoints) >= 3, "the reader did not see the checkpoints change"
    assert any(line["held"] not in (None, line["w"]) for line in lines), "nothing held across"
    _verify_store(root)


def _check_cli(root: Path, records: list[Record], results: list[dict[str, Any]]) -> None:
    """Each `lakehouse sql` answer: counts from the journal, hashes as `as_of` reads give."""
    by_w: dict[int, dict[str, Any]] = {}
    for result in results:
        row, w = _named(result), result["watermark"]
        assert {key: row[key] for key in expected_cli(records, w)} == expected_cli(records, w)
        assert by_w.setdefault(w, row) == row, f"two answers at watermark {w}"
    with Store.open(root) as store:
        for w, row in by_w.items():
            models = store.read_models(as_of=w)
            try:
                (again,) = models.query(CLI_QUERY)
            finally:
                models.close()
            assert list(again) == list(row.values()), f"as_of={w} disagrees with lakehouse sql"


def _verify_store(root: Path) -> None:
    """The store's own checks, and a rebuild from genesis agrees with merge-on-read."""
    findings = CheckpointStore(root).scan()
    assert not [f for f in findings if f.severity == "error"], findings
    before = _digest(root)
    with Store.open(root, checkpoint_every=0) as store:
        rebuild(store, everything=True)
    assert _digest(root) == before


def test_readers_beside_a_writer(store: Path, spawn: Callable[..., Child], seed: int) -> None:
    _race(store, spawn, seed, ops=100, reads=50)


@pytest.mark.soak
def test_readers_beside_a_writer_soak(store: Path, spawn: Callable[..., Child], seed: int) -> None:
    _race(store, spawn, seed, ops=2000, reads=500)


def _one_checkpoint_at_head(root: Path) -> int:
    """Seed, then leave exactly one checkpoint, at the head (no tail); its seq."""
    _seed(root, random.Random(7))
    with Store.open(root, checkpoint_every=0, segment_bytes=SEGMENT_BYTES) as store:
        head = store.checkpoint().seq
        store.checkpoints.prune(1)
    assert [c.seq for c in CheckpointStore(root).list()] == [head]
    return head


def _move_on(root: Path) -> int:
    """Supersede and add traces, checkpoint, prune to that one, archive; the new head."""
    with Store.open(root, checkpoint_every=0, segment_bytes=SEGMENT_BYTES) as store:
        for head in store.traces.list()[:3]:
            store.traces.revise(head["uid"], text="revised while a reader held on")
        store.traces.add(text="trace added while a reader held on")
        made = store.checkpoint()
        store.checkpoints.prune(1)
        assert store.journal.archive(upto=made.seq), "nothing archived"
        return made.seq


def test_held_read_models_survive_a_replace_and_a_prune(
    store: Path, spawn: Callable[..., Child]
) -> None:
    head = _one_checkpoint_at_head(store)
    checkpoint = CheckpointStore(store).get(head).path
    child = spawn("hold", store)
    assert child.wait_for("holding").split()[1:] == [str(head), str(head)]
    inode = checkpoint.stat().st_ino
    with Store.open(store, checkpoint_every=0) as lake:
        assert rebuild(lake, everything=True).checkpoint is not None
    assert checkpoint.stat().st_ino != inode, "the rebuild did not replace the checkpoint"
    newer = _move_on(store)
    assert not checkpoint.exists(), "the prune left the held checkpoint"
    child.send()
    assert child.finish() == 0, child.stderr()  # the held models answered as before
    assert child.lines()[-1].split()[1:] == [str(newer), str(newer)]


@pytest.mark.parametrize("change", ["replace", "prune"])
def test_checkpoints_change_between_listing_and_opening(
    store: Path, spawn: Callable[..., Child], change: str
) -> None:
    head = _one_checkpoint_at_head(store)
    child = spawn("stall", store)
    assert child.wait_for("listed").split()[1:] == [str(head)]
    newer = head
    # a checkpoint made from the one before holds layer files (tables/<name>.<seq>.parquet)
    # that a rebuild, writing each table whole, does not: opening them fails, and the
    # reader picks again (lakehouse/_layering.py)
    files = CheckpointStore(store).get(head).files
    layered = any(name.startswith("tables/") and name.count(".") > 1 for name in files)
    if change == "replace":
        with Store.open(store, checkpoint_every=0) as lake:
            assert rebuild(lake, everything=True).checkpoint is not None
    else:
        newer = _move_on(store)
    child.send()
    assert child.finish() == 0, child.stderr()
    _, seq, folds, *base = child.lines()[-1].split()
    if change == "replace":  # the same name, the same state: opened as listed, or again
        assert (int(seq), base, folds) == (head, [str(head)], "2" if layered else "1")
    else:  # it vanished as it was opened: picked again, and the newer one is past the
        # watermark the reader pinned before listing, so it folds from genesis
        assert newer > head
        assert (int(seq), base, folds) == (head, ["0"], "2")


# -- 2. a rebuild killed at each step ------------------------------------------------------

RESUME_EVERY = 120  # the kill store's head is 164: one resume point, then the final create
# (which create, which step, which occurrence in that create): see _step_index
# (the soak test kills at every step)
STEP_POINTS = [
    ("resume", "tmp_synced", 0),
    ("resume", "renamed", 0),
    ("final", "tmp_created", 0),
    ("final", "file_written", -1),
    ("final", "tmp_synced", 0),
    ("final", "renamed", 0),
    ("final", "published", 0),
    ("index", "file_written", -1),
    ("index", "renamed", 0),
]
SEQ_POINTS = [60, 160]  # a record before the resume point, and one after


class KillStore:
    """A template store to copy for each kill, what it answers, and its rebuild's steps."""

    def __init__(self, root: Path) -> None:
        self.root = root
        Journal.open(root, create=True).close()
        _seed(root, random.Random(11), traces=48)
        with Store.open(root, checkpoint_every=0, segment_bytes=SEGMENT_BYTES) as store:
            for i in range(60):
                store.traces.add(text=f"trace {i} before the last checkpoint")
            self.head = store.checkpoint().seq  # the rebuild replaces this one
        self.records = _records(root)
        assert RESUME_EVERY < self.head < 2 * RESUME_EVERY and SEQ_POINTS[1] > RESUME_EVERY
        self.answers = self.read()
        self.cli = _sql(root)
        self.digest = _digest(root)
        clean = root.parent / "clean"
        shutil.copytree(root, clean)
        with Store.open(clean, checkpoint_every=0) as store:
            report = rebuild(store, everything=True, resume_every=RESUME_EVERY, bulk=False)
        assert report.resumed_from == 0 and report.to_dict()["seq"] == self.head
        assert _digest(clean) == self.digest, "merge-on-read and a clean rebuild differ"
        self.steps = self.dry_run(root.parent / "dry")

    def read(self, root: Path | None = None) -> dict[str, Any]:
        """Fresh read models' checked answers, digest and watermark."""
        with Store.open(root or self.root) as store:
            models = store.read_models()
            try:
                answers = check(models, History(store.journal).upto(models.seq), "fresh")
                return {"w": models.seq, "answers": answers, "digest": models.state_digest()}
            finally:
                models.close()

    def dry_run(self, copy: Path) -> list[str]:
        """The step names of a whole rebuild, in order."""
        shutil.copytree(self.root, copy)
        done = _rebuild_child(copy)
        assert done.returncode == 0, done.stderr
        return [line.split()[2] for line in done.stdout.splitlines() if line.startswith("step ")]


@pytest.fixture(scope="module")
def kill_store(tmp_path_factory: pytest.TempPathFactory) -> KillStore:
    return KillStore(tmp_path_factory.mktemp("kill") / "template")


def _rebuild_child(root: Path, *args: str, bulk: bool = False) -> subprocess.CompletedProcess[str]:
    """A rebuild in a child: record by record (resume points and all), or in bulk."""
    how = () if bulk else ("--record-by-record",)
    return subprocess.run(
        [*CHILD, "rebuild", str(root), "--resume-every", str(RESUME_EVERY), *how, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _step_index(steps: list[str], create: str, name: str, nth: int) -> int:
    """The 1-based index in `steps` of the `nth` `name` step of the resume point's create,
    the final one's (the tables) or the one that adds the indexes to it."""
    starts = [i for i, step in enumerate(steps) if step == "tmp_created"]
    assert len(starts) == 3, f"expected a resume point, the tables, the indexes: {steps}"
    which = ("resume", "final", "index").index(create)
    start, end = starts[which], ([*starts, len(steps)])[which + 1]
    found = [i for i in range(start, end) if steps[i] == name]
    return found[nth] + 1


def _kill(kill_store: KillStore, root: Path, *args: str, bulk: bool = False) -> str:
    """Copy the template to `root` and run a rebuild there that SIGKILLs itself."""
    shutil.copytree(kill_store.root, root)
    done = _rebuild_child(root, *args, bulk=bulk)
    assert done.returncode == -signal.SIGKILL, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("killed at "), last
    return last.removeprefix("killed at ")


def _check_after_kill(kill_store: KillStore, root: Path, *, resumed: int) -> None:
    """Readers answer as before; leftovers are strays; the next rebuild resumes and finishes."""
    cli = _sql_start(root)  # a reader process beside this one
    assert kill_store.read(root) == kill_store.answers
    assert _sql_result(cli) == kill_store.cli
    checkpoints = CheckpointStore(root)
    temps = [path.name for path in checkpoints.directory.glob(".tmp-ckpt-*")]
    assert sorted(temps) == sorted(path.name for path in checkpoints.strays())
    findings = checkpoints.scan()
    assert not [f for f in findings if f.severity == "error"], findings
    scanned = {f.checkpoint for f in findings if f.code == "stray_temp_dir"}
    assert set(temps) <= scanned, "scan() does not name a stray temp dir"
    with Store.open(root, checkpoint_every=0) as store:
        report = rebuild(store, everything=True, resume_every=RESUME_EVERY, bulk=False)
    assert (report.resumed_from, report.to_dict()["seq"]) == (resumed, kill_store.head)
    latest = checkpoints.latest_valid(verify=True)
    assert latest is not None and latest.seq == kill_store.head
    assert not (root / "projections" / "cache" / "rebuild").exists(), "resume points kept"
    assert _digest(root) == kill_store.digest
    assert kill_store.read(root) == kill_store.answers


@pytest.mark.parametrize(
    ("create", "name", "nth"),
    STEP_POINTS,
    ids=[f"{c}-{n}{'-last' * (i < 0)}" for c, n, i in STEP_POINTS],
)
def test_a_rebuild_killed_at_a_step(
    kill_store: KillStore, tmp_path: Path, create: str, name: str, nth: int
) -> None:
    root = tmp_path / "store"
    index = _step_index(kill_store.steps, create, name, nth)
    assert _kill(kill_store, root, "--kill-step", str(index)) == f"step {index} {name}"
    # a kill before the rename leaves the temp dir: the final one's under checkpoints/, a
    # resume point's under projections/cache/rebuild/ (the next rebuild removes those); the
    # final create replaces the checkpoint at the head by an atomic swap, so after the swap
    # the temp dir holds the old checkpoint until it is deleted
    renamed = name in ("renamed", "published")
    shadow = root / "projections" / "cache" / "rebuild" / "checkpoints"
    temps = len(list((root / "checkpoints").glob(".tmp-ckpt-*")))
    assert temps == (create in ("final", "index"))
    assert len(list(shadow.glob(".tmp-ckpt-*"))) == (create == "resume" and not renamed)
    resumed = create in ("final", "index") or renamed
    _check_after_kill(kill_store, root, resumed=RESUME_EVERY if resumed else 0)


@pytest.mark.parametrize("seq", SEQ_POINTS)
def test_a_rebuild_killed_in_its_fold(kill_store: KillStore, tmp_path: Path, seq: int) -> None:
    assert _kill(kill_store, tmp_path / "store", "--kill-seq", str(seq)) == f"seq {seq}"
    _check_after_kill(
        kill_store, tmp_path / "store", resumed=RESUME_EVERY if seq > RESUME_EVERY else 0
    )


@pytest.mark.soak
def test_a_rebuild_killed_at_every_step_and_record_soak(
    kill_store: KillStore, tmp_path: Path
) -> None:
    resume_at = _step_index(kill_store.steps, "resume", "renamed", 0)
    for index in range(1, len(kill_store.steps) + 1):
        root = tmp_path / f"step-{index}"
        _kill(kill_store, root, "--kill-step", str(index))
        _check_after_kill(kill_store, root, resumed=RESUME_EVERY if index >= resume_at else 0)
        shutil.rmtree(root)
    for seq in range(2, kill_store.head + 1, 5):
        root = tmp_path / f"seq-{seq}"
        _kill(kill_store, root, "--kill-seq", str(seq))
        _check_after_kill(kill_store, root, resumed=RESUME_EVERY if seq > RESUME_EVERY else 0)
        shutil.rmtree(root)


def test_a_rebuild_killed_while_replacing_disturbs_nothing(
    kill_store: KillStore, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    before = [c.seq for c in CheckpointStore(kill_store.root).list()]
    index = _step_index(kill_store.steps, "final", "renamed", 0)
    assert _kill(kill_store, root, "--kill-step", str(index)) == f"step {index} renamed"
    checkpoints = CheckpointStore(root)
    leftovers = [p.name for p in checkpoints.directory.iterdir() if p.name.startswith(".")]
    unclassified = [f.checkpoint for f in checkpoints.scan() if f.code == "unknown_entry"]
    assert ([c.seq for c in checkpoints.list() if c.valid], unclassified) == (before, []), (
        f"leftovers {leftovers}"
    )


BULK_STEPS = ("tmp_created", "file_written", "manifest_written", "tmp_synced", "renamed")


@pytest.mark.parametrize("last", [False, True], ids=["tables", "indexes"])
@pytest.mark.parametrize("name", BULK_STEPS)
def test_a_rebuild_in_bulk_killed_at_a_step_leaves_the_old_checkpoint_or_the_new(
    kill_store: KillStore, tmp_path: Path, name: str, last: bool
) -> None:
    dry = _rebuild_child(shutil.copytree(kill_store.root, tmp_path / "dry"), bulk=True)
    assert dry.returncode == 0, dry.stderr
    steps = [line.split()[2] for line in dry.stdout.splitlines() if line.startswith("step ")]
    # no resume point: the tables' create, then the one adding the indexes
    assert steps.count("tmp_created") == 2, f"a rebuild in bulk leaves no resume point: {steps}"
    index = len(steps) - steps[::-1].index(name) if last else steps.index(name) + 1
    root = tmp_path / "store"
    assert _kill(kill_store, root, "--kill-step", str(index), bulk=True) == f"step {index} {name}"
    reader = _sql_start(root)  # a reader process beside this one
    assert kill_store.read(root) == kill_store.answers
    assert _sql_result(reader) == kill_store.cli
    findings = CheckpointStore(root).scan()
    assert not [f for f in findings if f.severity == "error"], findings
    with Store.open(root, checkpoint_every=0) as store:
        report = rebuild(store, everything=True)
    assert (report.resumed_from, report.to_dict()["seq"]) == (0, kill_store.head)
    assert _digest(root) == kill_store.digest
    assert kill_store.read(root) == kill_store.answers
    spills = list((root / "projections" / "cache").glob("spill-*"))
    if last:  # the fold in bulk, its spill directory with it, was let go before the indexes
        assert spills == []
        return
    # the killed rebuild's spill directory is left, and the doctor names it for --repair
    (spill,) = spills
    doctor = CliRunner().invoke(lakehouse_cli, ["--store", str(root), "--json", "doctor"])
    strays = [
        f["path"] for f in orjson.loads(doctor.stdout)["findings"] if f["code"] == "stray_temp_dir"
    ]
    assert str(spill.relative_to(root)) in strays


# -- 3. archiving beside a reader from genesis ---------------------------------------------


def _fill_journal(root: Path, records: int, *, start: int = 0) -> int:
    """Append `records` records in small batches (many segments); the head."""
    with Journal.open(root, segment_bytes=SEGMENT_BYTES, durability="none") as journal:
        for first in range(start, start + records, 10):
            journal.append_many(
                {"kind": "test.filled", "entity": "filler", "id": str(n), "payload": {"n": n}}
                for n in range(first, min(first + 10, start + records))
            )
        return journal.head_seq or 0


def test_archiving_beside_a_reader_from_genesis(
    store: Path, spawn: Callable[..., Child], seed: int
) -> None:
    rng = random.Random(seed)
    head = _fill_journal(store, 2000)
    reader = spawn("journal-reader", store, "--min-reads", "20")
    reader.wait_for("ready")
    with Journal.open(store, segment_bytes=SEGMENT_BYTES) as journal:
        upto, moved = 0, 0
        while upto < head:  # a few records appended and a segment or two archived per step
            written = head - 1  # seq 1 is the journal.created note: payload n is seq - 2
            head = _fill_journal(store, rng.randint(0, 10), start=written)
            upto += rng.randint(10, 40)
            moved += len(journal.archive(upto=upto))
    reader.send("stop")
    assert reader.finish() == 0, reader.stderr()  # it checks every read itself
    reads = [orjson.loads(line) for line in reader.lines() if line.startswith("{")]
    archived = [read["archived"] for read in reads]
    print(f"{len(reads)} reads from genesis while {moved} segments were archived: {archived}")
    assert len(reads) >= 20 and moved > 50
    counts = [read["records"] for read in reads]
    assert counts == sorted(counts), f"a later read from genesis gave fewer records: {counts}"
    assert len({a for a in archived if 0 < a < moved}) >= 3, "no read overlapped the archiving"
    assert [record.seq for record in _journal_records(store)] == list(range(1, head + 1))


def test_segments_archived_under_a_paused_reader(store: Path, spawn: Callable[..., Child]) -> None:
    head = _fill_journal(store, 600)
    reader = spawn("journal-reader", store, "--min-reads", "2", "--pause")
    moved: list[str] = []
    with Journal.open(store, segment_bytes=SEGMENT_BYTES) as journal:
        assert reader.wait_for("listed").split()[1:] == ["archive", "1"]
        assert reader.next_line() == "listing"  # between the archive and the live listing
        moved += [s.name for s in journal.archive(upto=100)]
        reader.send()
        boundaries = 0
        while (line := reader.next_line()).split()[0] in ("listed", "boundary"):
            if line.startswith("boundary"):  # the segment being read and the next ones go
                boundaries += 1
                moved += [s.name for s in journal.archive(upto=int(line.split()[1]) + 30)]
                reader.send()
            else:
                listings = int(line.split()[2])
    assert reader.finish() == 0, reader.stderr()
    reads = [orjson.loads(line) for line in reader.lines() if line.startswith("{")]
    print(f"{boundaries} pauses, {len(moved)} segments moved, listing calls {listings}: {reads}")
    assert listings > 3, "the listing did not notice the archive changing under it"
    assert boundaries >= 10 and len(moved) >= boundaries
    assert [read["records"] for read in reads] == [head, head]
    assert reads[1]["archived"] == len(moved)
    assert [record.seq for record in _journal_records(store)] == list(range(1, head + 1))


def _journal_records(root: Path) -> list[Record]:
    with Journal.open(root) as journal:
        assert journal.scan().healthy
        return list(journal.read(archived=True))
