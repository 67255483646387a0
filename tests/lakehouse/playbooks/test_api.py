"""The playbooks family through the Python API: record, retire, show, list and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakehouse import Conflict, InvalidInput, NotFound, Store
from tests.lakehouse._util import head_seq


def test_record_show_and_list(lake: Store) -> None:
    answer = lake.playbooks.record(
        query="who leads ETL?", endorsed=["ada", "grace"], target_count=1
    )
    assert answer.entity == "playbook" and answer.id.startswith("pb_") and len(answer.id) == 35
    assert (answer.rev, answer.appended) == (1, True)
    fill = lake.playbooks.record(
        query="staff the team",
        endorsed=["c", "a", "b", "d"],
        target_count=2,
        fingerprint="roster-v3",
        kind="fill",
    )
    head = lake.playbooks.show(fill.id)
    assert head["endorsed"] == ["c", "a", "b", "d"]  # the order of endorsement is kept
    assert (head["kind"], head["fingerprint"], head["target_count"]) == ("fill", "roster-v3", 2)
    assert head["retired"] is False and head["rev"] == 1 and head["created_seq"] == fill.seq
    assert lake.playbooks.show(answer.id)["kind"] == "answer"
    assert [head["id"] for head in lake.playbooks.list()] == [answer.id, fill.id]


def test_retire_hides_from_list_but_keeps_readable(lake: Store, store: Path) -> None:
    kept = lake.playbooks.record(query="q1", endorsed=["a"], target_count=1)
    gone = lake.playbooks.record(query="q2", endorsed=["b"], target_count=1)
    retired = lake.playbooks.retire(gone.id, reason="roster changed")
    assert (retired.id, retired.rev, retired.seq) == (gone.id, 2, (gone.seq or 0) + 1)
    before = head_seq(store)
    twice = lake.playbooks.retire(gone.id)
    assert (twice.appended, twice.rev, twice.seq) == (False, 2, None)
    assert head_seq(store) == before
    assert [head["id"] for head in lake.playbooks.list()] == [kept.id]
    listed = lake.playbooks.list(include_retired=True)
    assert [head["id"] for head in listed] == [kept.id, gone.id]
    head = lake.playbooks.show(gone.id)
    assert (head["retired"], head["retired_reason"], head["rev"]) == (True, "roster changed", 2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": 7}, "query"),
        ({"endorsed": []}, "endorsed"),
        ({"endorsed": ["a", ""]}, "endorsed"),
        ({"endorsed": ["a", "b", "a"]}, "endorsed"),
        ({"target_count": 0}, "target_count"),
        ({"target_count": "2"}, "target_count"),
        ({"kind": "guess"}, "kind"),
        ({"kind": "fill", "fingerprint": None}, "fingerprint"),
        ({"kind": "fill", "target_count": 1, "endorsed": ["a", "b", "c"]}, "endorsed"),
        ({"fingerprint": ""}, "fingerprint"),
    ],
)
def test_bad_input_names_the_field_and_appends_nothing(
    lake: Store, store: Path, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "query": "q",
        "endorsed": ["a", "b"],
        "target_count": 1,
        "fingerprint": "fp",
        **kwargs,
    }
    before = head_seq(store)
    with pytest.raises(InvalidInput) as caught:
        lake.playbooks.record(**args)
    assert caught.value.fields["field"] == field
    assert caught.value.exit_code == 3 and caught.value.hint
    assert head_seq(store) == before


def test_a_fill_playbook_may_endorse_exactly_twice_its_target(lake: Store) -> None:
    done = lake.playbooks.record(
        query="q", endorsed=["a", "b", "c", "d"], target_count=2, fingerprint="fp", kind="fill"
    )
    assert done.appended and lake.playbooks.show(done.id)["endorsed"] == ["a", "b", "c", "d"]


def test_unknown_id_is_not_found(lake: Store, store: Path) -> None:
    before = head_seq(store)
    for call in (lambda: lake.playbooks.show("pb_nope"), lambda: lake.playbooks.retire("pb_nope")):
        with pytest.raises(NotFound, match="pb_nope") as caught:
            call()
        assert caught.value.fields == {"entity": "playbook", "id": "pb_nope"}
        assert caught.value.exit_code == 5 and caught.value.hint
    assert head_seq(store) == before


def test_a_stale_if_rev_is_a_conflict_that_appends_nothing(lake: Store, store: Path) -> None:
    made = lake.playbooks.record(query="q", endorsed=["a"], target_count=1, if_rev=0)
    before = head_seq(store)
    with pytest.raises(Conflict) as caught:
        lake.playbooks.retire(made.id, if_rev=2)
    assert caught.value.fields == {
        "entity": "playbook",
        "id": made.id,
        "expected_rev": 2,
        "actual_rev": 1,
    }
    assert caught.value.exit_code == 4 and "--if-rev 1" in (caught.value.hint or "")
    with pytest.raises(Conflict) as new:
        lake.playbooks.record(query="q", endorsed=["a"], target_count=1, if_rev=1)
    assert new.value.fields["actual_rev"] == 0
    assert head_seq(store) == before
    assert lake.playbooks.retire(made.id, if_rev=1).rev == 2


def test_an_idempotency_key_returns_the_first_result(lake: Store, store: Path) -> None:
    first = lake.playbooks.record(query="q", endorsed=["a"], target_count=1, idempotency_key="k")
    before = head_seq(store)
    again = lake.playbooks.record(query="q", endorsed=["a"], target_count=1, idempotency_key="k")
    assert (again.seq, again.id, again.replayed, again.appended) == (
        first.seq,
        first.id,
        True,
        False,
    )
    assert head_seq(store) == before
    assert len(lake.playbooks.list()) == 1  # the retry did not make a second playbook
    with pytest.raises(Conflict, match="different command"):
        lake.playbooks.record(query="other", endorsed=["a"], target_count=1, idempotency_key="k")
    with pytest.raises(Conflict, match="different command"):
        lake.playbooks.retire(first.id, idempotency_key="k")
    assert head_seq(store) == before
    retired = lake.playbooks.retire(first.id, idempotency_key="r")
    assert lake.playbooks.retire(first.id, idempotency_key="r").seq == retired.seq


def test_heads_from_a_checkpoint_plus_tail_equal_heads_from_genesis(
    lake: Store, store: Path
) -> None:
    ids = [
        lake.playbooks.record(query=f"q{i}", endorsed=[f"n{i}"], target_count=1).id
        for i in range(30)
    ]
    lake.playbooks.retire(ids[0], reason="old")
    checkpoint = lake.checkpoint()
    assert checkpoint.seq == head_seq(store)
    lake.playbooks.retire(ids[1])
    lake.playbooks.retire(ids[0])  # a no-op after the checkpoint
    late = lake.playbooks.record(query="late", endorsed=["z"], target_count=1).id
    with Store.open(store) as from_checkpoint:
        assert from_checkpoint.heads().snapshot is not None
        via_checkpoint = from_checkpoint.heads().tables()
        listed = [head["id"] for head in from_checkpoint.playbooks.list()]
    assert listed == [*ids[2:], late]
    for path in (store / "checkpoints").iterdir():
        (path / "manifest.json").unlink()  # no valid checkpoint: heads from genesis
    with Store.open(store) as from_genesis:
        assert from_genesis.heads().snapshot is None
        assert from_genesis.heads().tables() == via_checkpoint
