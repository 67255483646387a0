"""A checkpoint shares the index of the one before and keeps the changed vectors beside it.

Rewriting a vector index costs what the index costs, so a checkpoint made from one with an
index hard-links its index files and writes the delta (every row changed since the index
was built, embedded, and the ids removed since: lakehouse/_search.py), searched exactly as
the tail is. Past DELTA_MAX the checkpoint updates the index instead. Either way a search
answers what an index built from scratch over the same rows answers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checkpoints import Checkpoint
from lakehouse import Store, _search
from lakehouse._rebuild import rebuild
from tests.lakehouse.test_search_exact import TOPICS, hits, same_answer

INDEX = "index/trace_search.hnsw"
DELTA = "index/trace_search.delta.npy"


def _grow(store: Store, start: int, count: int) -> list[str]:
    uids = []
    for n in range(start, start + count):
        text = f"{TOPICS[n % 3]} number {n}"
        uids.append(store.traces.add(text=text, tags=["t"] if n % 2 else []).id)
    return uids


def _change(store: Store, uids: list[str]) -> None:
    """Update, revise and retire some traces, and add a playbook."""
    store.traces.update(uids[0], text="penguins waiting for a delayed flight")
    store.traces.revise(uids[1], text="the march roster, revised")
    store.traces.retire(uids[2])
    store.playbooks.record(query="staff for march again", endorsed=["z"], target_count=1)


def _latest(store: Store) -> Checkpoint:
    latest = store.checkpoints.latest_valid()
    assert latest is not None
    return latest


def _same_index(one: Checkpoint, other: Checkpoint) -> bool:
    """True if the two checkpoints hold the very same index file (shared, not rewritten)."""
    return os.stat(one.path_of(INDEX)).st_ino == os.stat(other.path_of(INDEX)).st_ino


def _answers_as_a_fresh_index(store: Store) -> None:
    chained = hits(store)
    rebuild(store, everything=True)  # every index built anew over the same rows
    assert DELTA not in _latest(store).files
    for got, want in zip(chained, hits(store), strict=True):
        assert same_answer(got, want), (got, want)


def test_a_checkpoint_shares_the_index_and_writes_the_delta(tmp_path: Path) -> None:
    with Store.open(tmp_path, create=True, checkpoint_every=0, durability="none") as store:
        uids = _grow(store, 0, 60)
        for n in range(4):
            store.playbooks.record(query=f"{TOPICS[n % 3]} {n}", endorsed=[f"a{n}"], target_count=1)
        first = store.checkpoint()
        assert DELTA not in first.files
        _change(store, uids)
        _grow(store, 60, 5)
        second = store.checkpoint()
        assert _same_index(first, second)
        assert DELTA in second.files
        # a third checkpoint carries the delta forward, with the tail applied
        store.traces.update(uids[3], text="ice")
        third = store.checkpoint()
        assert _same_index(first, third)
        before = second.read_bytes("index/trace_search.delta.json")
        assert third.read_bytes("index/trace_search.delta.json") != before
        # the checkpoints the delta was built on can go: it lives on in the newest
        store.checkpoints.prune(1)
        assert third.verify() == []
        _answers_as_a_fresh_index(store)


def test_past_delta_max_the_index_is_updated_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_search, "DELTA_MAX", 4)
    with Store.open(tmp_path, create=True, checkpoint_every=0, durability="none") as store:
        uids = _grow(store, 0, 60)
        first = store.checkpoint()
        store.traces.update(uids[0], text="penguins on a delayed flight")
        small = store.checkpoint()  # one vector changed: shared, and a delta of one
        assert _same_index(first, small)
        _change(store, uids)
        _grow(store, 60, 5)
        big = store.checkpoint()  # the delta would pass 4: the index is rewritten
        assert DELTA not in big.files
        assert not _same_index(first, big)
        _answers_as_a_fresh_index(store)


def test_a_damaged_delta_is_an_error_naming_it(tmp_path: Path) -> None:
    from projections import VectorIndexUnreadable

    with Store.open(tmp_path, create=True, checkpoint_every=0, durability="none") as store:
        uids = _grow(store, 0, 30)
        store.checkpoint()
        _change(store, uids)
        made = store.checkpoint()
        vectors = made.path_of(DELTA)
        data = bytearray(vectors.read_bytes())
        data[1] ^= 0x20  # the magic string: same size, so the cheap check still passes
        vectors.write_bytes(bytes(data))
        with pytest.raises(VectorIndexUnreadable) as caught:
            store.traces.search("penguins", k=3)
        assert caught.value.fields["path"].endswith("delta.npy")
        assert "doctor --repair" in caught.value.hint


def test_a_rebuild_of_another_projection_keeps_the_index_and_its_delta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild replaces the checkpoint the kept search projection's index is shared
    from: the index goes into the new one from the file the read holds open."""
    from lakehouse.traces._projection import TracesProjection

    with Store.open(tmp_path, create=True, checkpoint_every=0, durability="none") as store:
        uids = _grow(store, 0, 40)
        store.checkpoint()
        _change(store, uids)
        shared = store.checkpoint()
        assert DELTA in shared.files
        want = hits(store)
        monkeypatch.setattr(TracesProjection, "version", TracesProjection.version + 1)
        report = rebuild(store, ["traces"])
        assert report.rebuilt == ["traces"] and "trace_search" in report.kept
        assert report.checkpoint is not None and report.checkpoint.seq == shared.seq
        assert DELTA in report.checkpoint.files and report.checkpoint.verify() == []
        assert hits(store) == want


def test_the_delta_stays_within_a_tenth_of_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_search, "DELTA_MIN", 1)
    with Store.open(tmp_path, create=True, checkpoint_every=0, durability="none") as store:
        uids = _grow(store, 0, 60)
        first = store.checkpoint()
        for uid in uids[:5]:  # 5 changed of 60: within a tenth, shared
            store.traces.update(uid, text="penguins on ice")
        small = store.checkpoint()
        assert _same_index(first, small)
        for uid in uids[5:8]:  # 8 changed since the index: past a tenth, updated
            store.traces.update(uid, text="a delayed flight")
        big = store.checkpoint()
        assert DELTA not in big.files
        assert not _same_index(first, big)
        _answers_as_a_fresh_index(store)
