"""The search contract (DESIGN §6): fresh, never stale, wherever the rows live.

A trace is found the command after it is added; after an update its new text matches
and its old one no longer does; a retired trace shows only with include_retired; a
superseded one never. Each is checked with the changes in the tail (no checkpoint), in
the checkpoint's HNSW index (checkpoint after), and split: the traces in the index and
their changes in the tail, which must shadow the index's stale rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lakehouse import Store
from tests.projections.conftest import fresh_store

# disjoint vocabularies, so which text is nearest does not hang on hash collisions
OLD = "alpha bravo charlie"
NEW = "delta echo foxtrot"
NEAR_OLD = "alpha bravo golf"  # the best match for OLD once the updated trace left it
RETIRED = "hotel india juliet"
REVISED = "kilo lima mike"
REVISION = "november oscar papa"
# where checkpoints go: none, before the changes, after them, or both (the second one's
# index is the first's updated with the changes)
PLACES = ("none", "between", "after", "both")


@dataclass
class Lake:
    store: Store
    place: str
    before: int  # the seq before the update, retire and revise
    updated: str
    near: str
    retired: str
    revised: str
    revision: str


@pytest.fixture(params=PLACES)
def lake(request: pytest.FixtureRequest) -> Iterator[Lake]:
    """Traces added, then updated/retired/revised; a checkpoint nowhere, between or after."""
    with fresh_store() as store:
        updated = store.traces.add(text=OLD, tags=["etl"]).id
        near = store.traces.add(text=NEAR_OLD).id
        retired = store.traces.add(text=RETIRED, tags=["etl"]).id
        revised = store.traces.add(text=REVISED).id
        for i in range(20):  # some company, so the index is a graph and not a list
            store.traces.add(text=f"filler number {i} quebec romeo {i * 7}")
        before = store.journal.head_seq or 0
        if request.param in ("between", "both"):
            store.checkpoint()
        store.traces.update(updated, text=NEW)
        store.traces.retire(retired, reason="obsolete")
        revision = store.traces.revise(revised, text=REVISION).id
        if request.param in ("after", "both"):
            store.checkpoint()
        yield Lake(store, request.param, before, updated, near, retired, revised, revision)


def _uids(store: Store, query: str, **options: object) -> list[str]:
    return [hit["uid"] for hit in store.traces.search(query, k=30, **options)]  # type: ignore[arg-type]


def test_the_checkpoint_is_where_the_fixture_says(lake: Lake) -> None:
    """The index path is really taken when a checkpoint exists (else the tests prove less)."""
    latest = lake.store.checkpoints.latest_valid()
    head = lake.store.journal.head_seq or 0
    want = {"none": None, "between": lake.before, "after": head, "both": head}[lake.place]
    assert (latest.seq if latest else None) == want
    assert len(lake.store.checkpoints.list()) == (2 if lake.place == "both" else want is not None)
    if latest is not None:
        assert "index/trace_search.hnsw" in latest.files


def test_an_updated_trace_matches_its_new_text_not_its_old_one(lake: Lake) -> None:
    hits = lake.store.traces.search(NEW, k=5)
    assert hits[0]["uid"] == lake.updated and hits[0]["text"] == NEW
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    old = _uids(lake.store, OLD)
    assert old[0] == lake.near  # no stale row of the old text outranks it
    assert all(hit["score"] < 0.99 for hit in lake.store.traces.search(OLD, k=30))
    assert old.count(lake.updated) == 1  # shadowed, not listed twice


def test_a_retired_trace_shows_only_when_asked_for(lake: Lake) -> None:
    assert lake.retired not in _uids(lake.store, RETIRED)
    assert lake.retired not in _uids(lake.store, RETIRED, tag="etl")
    with_retired = lake.store.traces.search(RETIRED, k=30, include_retired=True)
    assert with_retired[0]["uid"] == lake.retired and with_retired[0]["retired"] is True


def test_a_superseded_trace_never_shows(lake: Lake) -> None:
    for include_retired in (False, True):
        for query in (REVISED, REVISION):
            assert lake.revised not in _uids(lake.store, query, include_retired=include_retired)
    hits = lake.store.traces.search(REVISION, k=3)
    assert hits[0]["uid"] == lake.revision and hits[0]["predecessor"] == lake.revised


def test_the_tag_filter_keeps_only_tagged_live_traces(lake: Lake) -> None:
    assert _uids(lake.store, NEW, tag="etl") == [lake.updated]  # the retired one is hidden
    assert set(_uids(lake.store, NEW, tag="etl", include_retired=True)) == {
        lake.updated,
        lake.retired,
    }


def test_search_as_of_sees_the_traces_as_they_were(lake: Lake) -> None:
    before = lake.before
    assert _uids(lake.store, OLD, as_of=before)[0] == lake.updated
    assert _uids(lake.store, RETIRED, as_of=before)[0] == lake.retired
    assert _uids(lake.store, REVISED, as_of=before)[0] == lake.revised
    assert lake.revision not in _uids(lake.store, REVISION, as_of=before)


@pytest.mark.parametrize("place", PLACES)
def test_a_trace_added_one_command_ago_is_found(place: str) -> None:
    with fresh_store() as store:
        store.traces.add(text="some first trace")
        if place in ("between", "both"):
            store.checkpoint()
        uid = store.traces.add(text="sierra tango uniform").id
        if place in ("after", "both"):
            store.checkpoint()
        assert _uids(store, "sierra tango uniform")[0] == uid


@pytest.mark.parametrize("place", PLACES)
def test_playbooks_recorded_are_found_and_retired_ones_are_not(place: str) -> None:
    with fresh_store() as store:
        kept = store.playbooks.record(query=OLD, endorsed=["a"], target_count=2).id
        gone = store.playbooks.record(query=RETIRED, endorsed=["b"], target_count=2).id
        if place in ("between", "both"):
            store.checkpoint()
        store.playbooks.retire(gone)
        late = store.playbooks.record(query=NEW, endorsed=["c"], target_count=2).id
        if place in ("after", "both"):
            store.checkpoint()
        ids = [hit["id"] for hit in store.playbooks.search(RETIRED, k=10)]
        assert gone not in ids and set(ids) == {kept, late}
        assert store.playbooks.search(NEW, k=1)[0]["id"] == late
        assert store.playbooks.search(OLD, k=1)[0]["id"] == kept
