"""A projection whose code changed is rebuilt once, by the first read, and never refolded.

Until issue 15 every read of such a projection folded the whole history again (32 s per
`lakehouse sql` at 1M records); now the first read at the head past PERSIST_FROM records
rebuilds it into a checkpoint, and every read after starts from there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checkpoints import CheckpointStore
from lakehouse import Store, _rebuild
from lakehouse.traces._projection import TracesProjection


@pytest.fixture
def lake(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "store", create=True, checkpoint_every=0, durability="none")
    for n in range(30):
        store.traces.add(text=f"trace {n}")
    store.checkpoint()
    store.traces.add(text="after the checkpoint")
    return store


def bases(store: Store) -> dict[str, int]:
    models = store.read_models()
    try:
        return {name: part.base_seq for name, part in models.parts.items()}
    finally:
        models.close()


def count(store: Store) -> int:
    rows = store.sql("SELECT count(*) FROM traces").rows()
    return int(rows[0][0])


def test_the_first_read_rebuilds_a_changed_projection_and_the_next_start_from_it(
    lake: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_rebuild, "PERSIST_FROM", 10)
    before = [c.seq for c in CheckpointStore(lake.root).list()]
    monkeypatch.setattr(TracesProjection, "version", TracesProjection.version + 1)
    head = lake.journal.head_seq or 0
    assert bases(lake)["traces"] == head  # rebuilt at the head, read from that checkpoint
    assert [c.seq for c in CheckpointStore(lake.root).list()] == [*before, head]
    written = CheckpointStore(lake.root).get(head).path.stat().st_mtime_ns
    calls: list[list[str]] = []
    monkeypatch.setattr(_rebuild, "rebuild", lambda store, names: calls.append(names))
    assert count(lake) == 31 and bases(lake)["traces"] == head
    assert calls == [] and CheckpointStore(lake.root).get(head).path.stat().st_mtime_ns == written


def test_a_short_history_is_folded_as_before(lake: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TracesProjection, "version", TracesProjection.version + 1)
    assert (lake.journal.head_seq or 0) < _rebuild.PERSIST_FROM
    assert bases(lake)["traces"] == 0  # from genesis: no checkpoint is written for it
    assert count(lake) == 31
    assert len(CheckpointStore(lake.root).list()) == 1


def test_a_rebuild_that_cannot_be_written_leaves_the_read_folding_as_before(
    lake: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_rebuild, "PERSIST_FROM", 10)
    monkeypatch.setattr(TracesProjection, "version", TracesProjection.version + 1)

    def full(store: Store, names: list[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_rebuild, "rebuild", full)
    assert bases(lake)["traces"] == 0 and count(lake) == 31
    assert "could not rebuild traces for the read" in caplog.text
    assert len(CheckpointStore(lake.root).list()) == 1
