"""A hypothesis state machine over the journal; its model is the list of acknowledged records.

Rules append, append batches, roll, reopen, leave torn writes behind, crash in the
middle of a write, and write through a second Journal object. After every step the
journal must hold every acknowledged record unchanged, seqs 1..N with no gap, nothing
that was never written, and scan healthy. A record from a write that failed part-way
was never acknowledged: it may be there or not, but a batch is there whole or not at all.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import journal._writer as writer_module
from journal import Draft, Journal, WriterStopped

KEPT = Path(__file__).resolve().parents[2] / ".test-failures"
PAYLOADS = st.dictionaries(
    st.sampled_from(["a", "b", "\u2028", "k\n"]),
    st.none() | st.integers(-5, 5) | st.text(max_size=12) | st.lists(st.booleans(), max_size=3),
    max_size=3,
)
DRAFTS = st.builds(
    Draft,
    kind=st.sampled_from(["t.added", "t.updated", "s.recorded"]),
    entity=st.sampled_from(["t", "s"]),
    id=st.sampled_from(["x", "y", "z\u2028"]),
    payload=PAYLOADS,
    rev=st.integers(0, 3),
    v=st.just(1),
)

Key = tuple[str, str, str, int, Any]


def _key(record: Any) -> Key:
    return (record.kind, record.entity, record.id, record.rev, record.payload)


class JournalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="lh-sm-"))
        self.journal = Journal.open(self.root, create=True, segment_bytes=2000)
        self.acked: dict[int, Key] = {}
        self.maybe: list[list[Key]] = []  # drafts of failed writes: whole or absent
        self.abandoned: list[Journal] = []  # left open as a crash would, closed at teardown

    def teardown(self) -> None:
        for old in self.abandoned:  # or each keeps its descriptors for the whole session
            old.close()
        self.journal.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @rule(draft=DRAFTS)
    def append(self, draft: Draft) -> None:
        record = self.journal.append_many([draft])[0]
        self.acked[record.seq] = _key(record)

    @rule(drafts=st.lists(DRAFTS, min_size=2, max_size=12))
    def append_batch(self, drafts: list[Draft]) -> None:
        for record in self.journal.append_many(drafts):
            self.acked[record.seq] = _key(record)

    @rule()
    def roll(self) -> None:
        self.journal.roll()

    @rule(durability=st.sampled_from(["always", "batch"]), clean=st.booleans())
    def reopen(self, durability: str, clean: bool) -> None:
        if clean:
            self.journal.close()
        else:
            self.abandoned.append(self.journal)
        self.journal = Journal.open(self.root, durability=durability, segment_bytes=2000)

    @rule(draft=DRAFTS)
    def second_writer(self, draft: Draft) -> None:
        with Journal.open(self.root, segment_bytes=2000) as other:
            record = other.append_many([draft])[0]
        self.acked[record.seq] = _key(record)

    @rule(cut=st.floats(0.0, 1.0), nuls=st.integers(0, 40))
    def torn_write(self, cut: float, nuls: int) -> None:
        """What a writer killed mid-write leaves: a prefix of a record, maybe zeros after."""
        segment = sorted((self.root / "journal" / "segments").iterdir())[-1]
        line = b'\n{"seq":999,"ts":"2026-11-24T00:00:00.000000Z","writer":"1-x","kind":"t.added"}'
        with open(segment, "ab") as handle:
            handle.write(line[: max(1, int(len(line) * cut))] + b"\0" * nuls)

    @rule(drafts=st.lists(DRAFTS, min_size=1, max_size=6), seed=st.integers(0, 2**16))
    def crash_mid_write(self, drafts: list[Draft], seed: int) -> None:
        """A write that puts only part of its bytes down, then fails: the writer stops."""
        real = writer_module.write_all
        rng = random.Random(seed)

        def partial(fd: int, data: bytes) -> None:
            real(fd, data[: rng.randrange(len(data) + 1)])
            raise OSError(28, "injected: no space left")

        writer_module.write_all = partial  # type: ignore[assignment]
        try:
            with pytest.raises(WriterStopped):
                self.journal.append_many(drafts)
        finally:
            writer_module.write_all = real
        self.maybe.append([_key(d) for d in drafts])
        self.journal.close()  # a stopped writer still holds its files until closed
        self.journal = Journal.open(self.root, segment_bytes=2000)

    @invariant()
    def holds_exactly_what_was_acknowledged(self) -> None:
        try:
            self._check()
        except AssertionError:
            KEPT.mkdir(exist_ok=True)
            target = KEPT / f"state-machine-{self.root.name}"
            shutil.copytree(self.root, target, dirs_exist_ok=True)
            print(f"kept failing store at {target}")
            raise

    def _check(self) -> None:
        records = list(self.journal.read())
        seqs = [r.seq for r in records]
        assert seqs == list(range(1, len(seqs) + 1))
        users = {r.seq: _key(r) for r in records if not r.kind.startswith("journal.")}
        for seq, key in self.acked.items():
            assert users.get(seq) == key, f"acknowledged seq {seq} lost or changed"
        extra = [key for seq, key in sorted(users.items()) if seq not in self.acked]
        for group in self.maybe:  # each failed write shows up whole, once, or not at all
            if extra[: len(group)] == group:
                extra = extra[len(group) :]
        assert not extra, f"records nobody wrote: {extra}"
        report = self.journal.scan()
        assert report.healthy, report.findings
        assert self.journal.head_seq == seqs[-1]


JournalMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_journal_state_machine = JournalMachine.TestCase


class JournalMachineSoak(JournalMachine):
    pass


JournalMachineSoak.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_journal_state_machine_soak = pytest.mark.soak(JournalMachineSoak.TestCase)
