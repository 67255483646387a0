"""Automatic checkpoints: every `checkpoint_every` records and after a segment is sealed.

A command's records are durable before its automatic checkpoint is attempted, so a
checkpoint that fails only warns: the command's outcome and its record stand.
"""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import lakehouse._rebuild
from checkpoints import CheckpointStore, CheckpointWriteFailed
from journal import Journal
from lakehouse import InvalidInput, Store
from lakehouse._store import CHECKPOINT_ENV
from lakehouse.cli import cli

PAD = "x" * 300


def seqs(root: Path) -> list[int]:
    """The seqs of the checkpoints on disk that pass the full check."""
    found = CheckpointStore(root).list()
    return [
        c.seq for c in found if c.valid and not [f for f in c.verify() if f.severity == "error"]
    ]


def head(store: Path) -> int | None:
    with Journal.open(store) as journal:
        return journal.head_seq


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)


@pytest.fixture
def every5(store: Path) -> Iterator[Store]:
    opened = Store.open(store, checkpoint_every=5, durability="none")
    yield opened
    opened.close()


def test_a_checkpoint_every_n_records(every5: Store, store: Path) -> None:
    outcomes = [every5.traces.add(text=f"t{i}") for i in range(3)]  # seqs 2, 3, 4
    assert [o.seq for o in outcomes] == [2, 3, 4] and seqs(store) == []
    fifth = every5.traces.add(text="t3")
    assert fifth.seq == 5 and seqs(store) == [5]
    checkpoint = every5.checkpoints.get(5)
    assert {"tables/traces.parquet", "heads/trace.json", "catalog.json"} <= set(checkpoint.files)
    # commands go on, from the new checkpoint; the next one is due 5 records later
    for i in range(4, 8):
        every5.traces.add(text=f"t{i}")  # seqs 6..9
    assert seqs(store) == [5]
    tenth = every5.traces.update(fifth.id, text="t3, changed")
    assert (tenth.seq, tenth.rev) == (10, 2) and seqs(store) == [5, 10]
    assert every5.traces.get(fifth.id)["text"] == "t3, changed"
    assert len(every5.traces.list()) == 8
    models = every5.read_models()
    try:
        assert models.query("SELECT count(*), max(seq) FROM journal") == [(10, 10)]
    finally:
        models.close()


def test_a_command_crossing_the_mark_checkpoints_at_its_last_record(
    every5: Store, store: Path
) -> None:
    first = every5.traces.add(text="a")  # seq 2
    every5.traces.add(text="b")  # seq 3
    every5.traces.add(text="c")  # seq 4
    revised = every5.traces.revise(first.id, text="a2")  # two records: seqs 5 and 6
    assert head(store) == 6
    assert seqs(store) == [6]  # not 5: the checkpoint holds the whole command
    assert every5.traces.get(revised.id)["text"] == "a2"
    assert every5.traces.get(first.id)["successor"] == revised.id


def test_zero_turns_them_off(store: Path) -> None:
    with Store.open(store, checkpoint_every=0, durability="none") as lake:
        for i in range(12):
            lake.traces.add(text=f"t{i}")
    assert seqs(store) == [] and not (store / "checkpoints").exists()


def test_the_environment_sets_the_cadence(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHECKPOINT_ENV, "3")
    with Store.open(store) as lake:
        assert lake.checkpoint_every == 3
        lake.traces.add(text="a")
        assert seqs(store) == []
        lake.traces.add(text="b")  # seq 3
    assert seqs(store) == [3]
    with Store.open(store, checkpoint_every=0) as lake:  # the argument wins over the env
        for i in range(4):
            lake.traces.add(text=f"t{i}")
    assert seqs(store) == [3]


def test_the_cli_takes_the_cadence_from_the_environment(store: Path) -> None:
    runner = CliRunner()
    for text in ("a", "b", "c"):
        result = runner.invoke(
            cli,
            ["--store", str(store), "trace", "add", "--text", text, "--json"],
            env={CHECKPOINT_ENV: "2"},
        )
        assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["seq"] == 4
    assert seqs(store) == [2, 4]


def test_the_default_cadence_is_large(store: Path) -> None:
    with Store.open(store) as lake:
        assert lake.checkpoint_every == 100_000
        for i in range(10):
            lake.traces.add(text=f"t{i}")
    assert seqs(store) == []


def test_a_sealed_segment_gets_a_checkpoint_covering_it(tmp_path: Path) -> None:
    root = tmp_path / "s"
    with Store.open(
        root, create=True, segment_bytes=4096, checkpoint_every=10_000, durability="none"
    ) as lake:
        rolled_at = None
        for i in range(30):
            seq = lake.traces.add(text=f"t{i} {PAD}").seq
            if rolled_at is None and len(lake.journal.segments()[0]) == 2:
                rolled_at = seq
                assert seqs(root) == [seq]  # the command that rolled made one
            elif rolled_at is not None and len(lake.journal.segments()[0]) == 2:
                assert seqs(root) == [rolled_at]  # no roll, no new checkpoint
        assert rolled_at is not None
        sealed = lake.journal.segments()[0][0].path
        checkpoint = lake.checkpoints.get(rolled_at)
        digest = hashlib.sha256(sealed.read_bytes()).hexdigest()
        assert checkpoint.meta["segments"] == {sealed.name: digest}
        # so the sealed segment can be archived right away
        assert [s.name for s in lake.journal.archive(upto=checkpoint.seq)] == [sealed.name]


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        CheckpointWriteFailed("could not write checkpoint ckpt-5: No space left on device"),
    ],
    ids=["oserror", "checkpoint-write-failed"],
)
def test_a_failing_automatic_checkpoint_only_warns(
    every5: Store, store: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    for i in range(3):
        every5.traces.add(text=f"t{i}")

    def broken(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(lakehouse._rebuild, "create_checkpoint", broken)
    with pytest.warns(UserWarning, match=r"^automatic checkpoint at seq 5 failed: .*No space"):
        outcome = every5.traces.add(text="kept")
    assert (outcome.seq, outcome.rev, outcome.appended) == (5, 1, True)
    assert outcome.head is not None and outcome.head["text"] == "kept"
    assert every5.traces.get(outcome.id)["text"] == "kept"
    assert head(store) == 5 and seqs(store) == []
    monkeypatch.undo()
    assert every5.traces.add(text="next").seq == 6
    assert seqs(store) == [6]  # still due: the next command makes it


def test_a_failing_store_checkpoint_only_warns(
    every5: Store, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Store, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Store, "checkpoint", broken)
    for i in range(3):
        every5.traces.add(text=f"t{i}")
    with pytest.warns(UserWarning, match="automatic checkpoint at seq 5 failed"):
        outcome = every5.playbooks.record(query="who leads?", endorsed=["ada"], target_count=1)
    assert outcome.seq == 5 and every5.playbooks.show(outcome.id)["endorsed"] == ["ada"]
    assert seqs(store) == []


def test_a_duckdb_write_error_in_an_automatic_checkpoint_only_warns(
    every5: Store, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from projections import ReadModels

    def full_disk(self: ReadModels, table: str, path: Path) -> None:
        raise duckdb.IOException(f'IO Error: Could not write file "{path}": No space left')

    for i in range(3):
        every5.traces.add(text=f"t{i}")
    monkeypatch.setattr(ReadModels, "write_table", full_disk)
    with pytest.warns(UserWarning, match="automatic checkpoint at seq 5 failed"):
        outcome = every5.traces.add(text="kept")
    assert outcome.seq == 5


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_negative_cadence_is_invalid_input(
    store: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    if source == "environment":
        monkeypatch.setenv(CHECKPOINT_ENV, "-2")
    with pytest.raises(InvalidInput) as raised:
        Store.open(store, checkpoint_every=-2 if source == "argument" else None)
    error = raised.value
    assert error.message == "checkpoint_every must be 0 (off) or a record count, not -2"
    assert error.hint == f"set {CHECKPOINT_ENV} or checkpoint_every to 0 or more"
    assert error.exit_code == 3 and error.to_dict()["field"] == "checkpoint_every"


def test_the_cli_refuses_a_negative_cadence_with_exit_3(store: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--store", str(store), "trace", "add", "--text", "a"], env={CHECKPOINT_ENV: "-1"}
    )
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        "error: checkpoint_every must be 0 (off) or a record count, not -1\n"
        f"hint: set {CHECKPOINT_ENV} or checkpoint_every to 0 or more\n"
    )
    assert head(store) == 1


def test_a_non_numeric_cadence_in_the_environment_is_invalid_input(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHECKPOINT_ENV, "often")
    with pytest.raises(InvalidInput, match=CHECKPOINT_ENV):
        Store.open(store)
