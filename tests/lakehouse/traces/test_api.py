"""The traces family through the Python API: every verb, its refusals, and its heads."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal import Journal
from lakehouse import Conflict, InvalidInput, NotFound, Store
from tests.lakehouse._util import head_seq


def test_add_get_update_with_revs(lake: Store) -> None:
    added = lake.traces.add(text="plan the ingest", tags=["etl", "etl", "plan"])
    assert added.rev == 1 and added.appended and added.seq is not None
    head = lake.traces.get(added.id)
    assert head["text"] == "plan the ingest" and head["tags"] == ["etl", "plan"]
    updated = lake.traces.update(added.id, text="plan, then validate", if_rev=1)
    assert (updated.id, updated.rev, updated.seq) == (added.id, 2, added.seq + 1)
    assert lake.traces.get(added.id)["tags"] == ["etl", "plan"]  # kept when not given


def test_a_stale_if_rev_is_a_conflict_that_appends_nothing(lake: Store, store: Path) -> None:
    added = lake.traces.add(text="a")
    lake.traces.update(added.id, text="b")
    before = head_seq(store)
    with pytest.raises(Conflict) as caught:
        lake.traces.update(added.id, text="c", if_rev=1)
    assert caught.value.fields == {
        "entity": "trace",
        "id": added.id,
        "expected_rev": 1,
        "actual_rev": 2,
    }
    assert "--if-rev 2" in (caught.value.hint or "")
    assert head_seq(store) == before


def test_idempotent_add_replays_the_live_trace_with_the_same_content(lake: Store) -> None:
    first = lake.traces.add(text="same", tags=["x"])
    again = lake.traces.add(text="same", idempotent=True)
    assert again.id == first.id and again.extra == {"existing": True}
    assert lake.traces.get(first.id)["replays"] == 1
    other = lake.traces.add(text="same")  # not idempotent: a new trace
    assert other.id != first.id
    lake.traces.retire(first.id)
    lake.traces.retire(other.id)
    fresh = lake.traces.add(text="same", idempotent=True)  # retired ones are not replayed
    assert fresh.id not in (first.id, other.id) and fresh.rev == 1


def test_revise_links_history_and_freezes_the_old_trace(lake: Store) -> None:
    first = lake.traces.add(text="v1")
    second = lake.traces.revise(first.id, text="v2")
    third = lake.traces.revise(second.id, text="v3", tags=["final"])
    history = lake.traces.history(third.id)
    assert [head["uid"] for head in history["chain"]] == [third.id, second.id, first.id]
    assert [head["text"] for head in history["chain"]] == ["v3", "v2", "v1"]
    assert history["problems"] == []
    assert lake.traces.get(first.id)["successor"] == second.id
    with pytest.raises(Conflict, match="was revised into"):
        lake.traces.update(first.id, text="late")
    assert [head["uid"] for head in lake.traces.list()] == [third.id]


def test_retire_hides_from_list_but_keeps_readable(lake: Store) -> None:
    kept = lake.traces.add(text="keep", tags=["a"])
    gone = lake.traces.add(text="gone", tags=["a"])
    retired = lake.traces.retire(gone.id, reason="obsolete")
    assert retired.rev == 2
    assert lake.traces.retire(gone.id).appended is False  # retiring twice changes nothing
    assert [head["uid"] for head in lake.traces.list(tag="a")] == [kept.id]
    listed = lake.traces.list(tag="a", include_retired=True)
    assert [head["uid"] for head in listed] == [kept.id, gone.id]
    assert lake.traces.get(gone.id)["retired_reason"] == "obsolete"
    with pytest.raises(Conflict, match="retired"):
        lake.traces.update(gone.id, text="back")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "trace add"),
        ({"text": "a", "content": {"b": 1}}, "trace add"),
        ({"text": ""}, "text"),
        ({"text": "a", "tags": ["bad tag"]}, "tags"),
        ({"text": "a" * 70_000}, "text"),
    ],
)
def test_bad_input_names_the_field_and_appends_nothing(
    lake: Store, store: Path, kwargs: dict[str, object], field: str
) -> None:
    before = head_seq(store)
    with pytest.raises(InvalidInput) as caught:
        lake.traces.add(**kwargs)  # type: ignore[arg-type]
    assert caught.value.fields["field"] == field
    assert caught.value.exit_code == 3
    assert head_seq(store) == before


def test_unknown_uid_is_not_found(lake: Store, store: Path) -> None:
    before = head_seq(store)
    for call in (
        lambda: lake.traces.get("trc_nope"),
        lambda: lake.traces.update("trc_nope", text="x"),
        lambda: lake.traces.retire("trc_nope"),
        lambda: lake.traces.history("trc_nope"),
    ):
        with pytest.raises(NotFound, match="trc_nope"):
            call()
    assert head_seq(store) == before


def test_an_idempotency_key_returns_the_first_result(lake: Store, store: Path) -> None:
    first = lake.traces.add(text="once", idempotency_key="k-1")
    before = head_seq(store)
    again = lake.traces.add(text="once", idempotency_key="k-1")
    assert (again.seq, again.id, again.replayed, again.appended) == (
        first.seq,
        first.id,
        True,
        False,
    )
    assert head_seq(store) == before
    with pytest.raises(Conflict, match="different command"):
        lake.traces.add(text="other", idempotency_key="k-1")
    with Store.open(store) as reopened:  # the key survives a new process's heads
        assert reopened.traces.add(text="once", idempotency_key="k-1").seq == first.seq


def test_heads_from_a_checkpoint_plus_tail_equal_heads_from_genesis(
    lake: Store, store: Path
) -> None:
    uids = [lake.traces.add(text=f"t{i}", tags=[f"g{i % 3}"]).id for i in range(40)]
    lake.traces.update(uids[0], text="changed")
    checkpoint = lake.checkpoint()
    assert checkpoint.seq == head_seq(store)
    lake.traces.revise(uids[1], text="revised")
    lake.traces.retire(uids[2])
    lake.traces.add(text="t5", idempotent=True)
    with Store.open(store) as from_checkpoint:
        assert from_checkpoint.heads().snapshot is not None
        via_checkpoint = from_checkpoint.heads().tables()
    for path in (store / "checkpoints").iterdir():
        (path / "manifest.json").unlink()  # no valid checkpoint: heads from genesis
    with Store.open(store) as from_genesis:
        assert from_genesis.heads().snapshot is None
        assert from_genesis.heads().tables() == via_checkpoint


def test_history_reports_a_missing_link_and_a_cycle(lake: Store, store: Path) -> None:
    """Neither can be made through the API; a hand-written journal can hold both."""
    body = {"text": "x", "tags": [], "content_hash": "0" * 64}
    with Journal.open(store) as journal:
        journal.append(
            kind="trace.revised",
            entity="trace",
            id="trc_orphan",
            payload={**body, "predecessor": "trc_gone"},
            rev=1,
        )
        for uid, predecessor in (("trc_a", "trc_b"), ("trc_b", "trc_a")):
            journal.append(
                kind="trace.revised",
                entity="trace",
                id=uid,
                payload={**body, "predecessor": predecessor},
                rev=1,
            )
    orphan = lake.traces.history("trc_orphan")
    assert [head["uid"] for head in orphan["chain"]] == ["trc_orphan"]
    assert orphan["problems"] == ["missing link: trc_orphan names trc_gone, not found"]
    cycle = lake.traces.history("trc_a")
    assert [head["uid"] for head in cycle["chain"]] == ["trc_a", "trc_b"]
    assert cycle["problems"] == ["cycle: trc_b names trc_a, already in the chain"]
