"""A checkpoint whose index is not built yet is searched exactly: the same answers as its index.

A rebuild publishes its tables before it builds the vector indexes (lakehouse/_rebuild.py),
so a search may meet a checkpoint without them; it then compares the query with every row
(what the index approximates), and its hits are those the finished index gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkpoints import CheckpointStore
from lakehouse import Store, _rebuild

TOPICS = ["flight delays at the airport", "penguin colonies on ice", "staff roster for march"]
QUERIES = ["which flights are delayed", "penguins", "roster of staff", "ice", "march"]


def hits(store: Store) -> list[list[tuple[Any, float]]]:
    out = []
    for query in QUERIES:
        found = store.traces.search(query, k=5, tag="t")
        out.append([(hit["uid"], round(hit["score"], 5)) for hit in found])
    found_playbooks = store.playbooks.search("staff for march", k=3)
    out.append([(hit["id"], round(hit["score"], 5)) for hit in found_playbooks])
    return out


def index_files(root: Path) -> list[str]:
    latest = CheckpointStore(root).latest_valid()
    assert latest is not None
    return sorted(name for name in latest.files if name.startswith("index/"))


def test_a_checkpoint_without_its_index_answers_as_the_index_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(tmp_path, create=True, checkpoint_every=0, durability="none") as store:
        for n in range(60):
            store.traces.add(text=f"{TOPICS[n % 3]} number {n}", tags=["t"] if n % 2 else [])
        for n in range(6):
            store.playbooks.record(query=f"{TOPICS[n % 3]} {n}", endorsed=[f"a{n}"], target_count=1)
        monkeypatch.setattr(_rebuild, "_with_indexes", lambda store, checkpoint, models: checkpoint)
        _rebuild.rebuild(store, everything=True)  # killed, say, before the indexes were added
        assert index_files(tmp_path) == []
        exact = hits(store)
        monkeypatch.undo()
        _rebuild.rebuild(store, everything=True)
        assert index_files(tmp_path) == [
            "index/playbook_search.hnsw",
            "index/playbook_search.ids.json",
            "index/trace_search.hnsw",
            "index/trace_search.ids.json",
        ]
        for indexed, exactly in zip(hits(store), exact, strict=True):
            assert same_answer(indexed, exactly)
        assert all(found for found in exact)


def same_answer(one: list[tuple[Any, float]], other: list[tuple[Any, float]]) -> bool:
    """The same scores, best first, and the same ids above the last score (ties at the
    edge of the k best may keep either of the tied ids)."""
    if [score for _, score in one] != [score for _, score in other]:
        return False
    edge = one[-1][1] if one else 0.0
    return {id for id, s in one if s > edge} == {id for id, s in other if s > edge}
