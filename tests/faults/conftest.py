"""Fault-test plumbing: appender children, and the store's own checks after every fault.

The child is ``tools/faults/appender.py``, run as a script: it appends in a loop and
prints one ``ack`` line per record only after `append` returned (after fsync). The
`spawn` fixture starts children and SIGKILLs any still running at teardown;
`verify_store` checks the durability promise against what the children acknowledged;
`append_next` checks that the store reopens and appends with the next seq.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

from journal import Journal, Record

APPENDER = Path(__file__).resolve().parents[2] / "tools" / "faults" / "appender.py"
NOTES = ("journal.created", "journal.fragment_adjudicated")


class Ack(NamedTuple):
    """A record a child was told is durable: its seq, crc and payload."""

    seq: int
    crc: str
    payload: dict[str, Any]


class Appender:
    """One appender child; its stdout and stderr go to files, so it never blocks on a pipe."""

    def __init__(self, store: Path, args: Iterable[str], workdir: Path) -> None:
        self.out = workdir / "stdout"
        self.err = workdir / "stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(APPENDER), str(store), *args],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
            )

    def lines(self) -> list[str]:
        """The whole lines printed so far (a line cut short by a kill is left out)."""
        return self.out.read_text().split("\n")[:-1]

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        """The first line starting with `prefix`, waiting for the child to print it."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines() if line.startswith(prefix)]
            if found:
                return found[0]
            if self.proc.poll() is not None:
                raise AssertionError(f"appender exited {self.proc.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"appender printed no {prefix!r} in {timeout} s")
            time.sleep(0.002)

    def start(self) -> None:
        """Release a child started with --wait-stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()

    def kill(self) -> None:
        """SIGKILL the child, which must still have been running."""
        self.proc.send_signal(signal.SIGKILL)
        assert self.finish() == -signal.SIGKILL, self.stderr()

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the child to exit; its exit status (negative: killed by that signal)."""
        code = self.proc.wait(timeout=timeout)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        return code

    def acks(self) -> list[Ack]:
        """The records the child acknowledged."""
        acks = []
        for line in self.lines():
            if line.startswith("ack "):
                _, seq, crc, payload = line.split(" ", 3)
                acks.append(Ack(int(seq), crc, orjson.loads(payload)))
        return acks

    def stderr(self) -> str:
        """What the child wrote to stderr (a traceback, if it crashed)."""
        return self.err.read_text()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Appender]]:
    """Start appender children on a store; any still running at teardown is killed."""
    children: list[Appender] = []

    def start(store: Path, *args: str) -> Appender:
        workdir = tmp_path / f"appender-{len(children)}"
        workdir.mkdir()
        children.append(Appender(store, args, workdir))
        return children[-1]

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.finish(timeout=10)


def verify_store(
    store: Path, acks: Iterable[Ack], *, allowed: Iterable[str] = ("torn_tail",)
) -> list[Record]:
    """Check the store after a fault and return its records in seq order.

    Every acknowledged record is there with the crc and payload acknowledged; the seqs
    are exactly 1..N; the journal's own notes are the only records not written by a child
    (or by `append_next`), and each writer's records carry its counters 0, 1, 2, ... in
    seq order (a writer only ever loses its last, unacknowledged write); the scan finds
    nothing but the codes in `allowed`.
    """
    with Journal.open(store) as journal:
        records = list(journal.read())  # on_damage="raise": any damage fails here
        report = journal.scan()
    assert report.healthy, report.to_dict()
    assert {f.code for f in report.findings} <= set(allowed), report.to_dict()
    seqs = [record.seq for record in records]
    assert seqs == list(range(1, len(seqs) + 1)), "the seqs are not exactly 1..N"
    assert (report.head_seq, report.records) == (len(seqs), len(seqs))
    by_seq = {record.seq: record for record in records}
    lost = [
        ack
        for ack in acks
        if ack.seq not in by_seq or (by_seq[ack.seq].crc, by_seq[ack.seq].payload) != ack[1:]
    ]
    assert not lost, f"{len(lost)} acknowledged records lost or changed, e.g. {lost[:3]}"
    counters: dict[str, list[int]] = defaultdict(list)
    for record in records:
        if record.kind.startswith("journal."):
            assert record.kind in NOTES, record
        else:
            counters[record.payload["writer"]].append(record.payload["n"])
    out_of_order = {w: ns for w, ns in counters.items() if ns != list(range(len(ns)))}
    assert not out_of_order, f"a writer's records are missing or out of order: {out_of_order}"
    return records


def append_next(store: Path, head: int) -> tuple[Record, Record | None]:
    """Reopen, append once, and check the seqs: the record and the fragment note, if any.

    A torn tail left by the fault is adjudicated first by a note at head + 1, unless the
    region was judged damaged: then the note declares the seqs it skipped. The record
    follows the note, or takes head + 1 when there was nothing to adjudicate.
    """
    with Journal.open(store) as journal:
        assert journal.head_seq == head
        torn = [f for f in journal.scan().findings if f.code == "torn_tail"]
        done = sum(1 for r in journal.read() if r.payload.get("writer") == "parent")
        payload = {"writer": "parent", "n": done}
        record = journal.append(
            kind="fault.appended", entity="writer", id="parent", payload=payload
        )
        added = list(journal.read(after=head))
    if not torn:
        assert [r.seq for r in added] == [head + 1] and record.seq == head + 1, added
        return record, None
    note, appended = added
    assert note.kind == "journal.fragment_adjudicated", note
    assert (note.payload["segment"], note.payload["start"]) == (torn[0].segment, torn[0].offset)
    skipped = note.payload["skipped"]
    assert note.seq == (skipped[1] + 1 if skipped else head + 1), note
    assert skipped is None or skipped[0] == head + 1, note
    assert appended == record and record.seq == note.seq + 1
    return record, note
