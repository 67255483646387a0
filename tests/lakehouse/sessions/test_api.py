"""The sessions family through the Python API: record, show, list, refusals and heads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from journal import RecordTooLarge
from lakehouse import Conflict, InvalidInput, NotFound, Store
from tests.lakehouse._util import head_seq


def _session(sid: str = "s-1", **changes: Any) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": sid,
        "model": "qwen2.5-7b",
        "attempts": [
            {"prompt": "who fits?", "raw": "Ada", "verdict": "rejected: not on roster"},
            {"prompt": "who fits? (retry)", "raw": "Grace", "verdict": "accepted"},
        ],
        "outcome": "success",
        "grounded_in_roster": True,
        "timings": {"total_ms": 1234.5, "validate_ms": 12},
        "started_at": "2024-05-01T10:00:00Z",
        "ended_at": "2024-05-01T10:00:02Z",
    }
    session.update(changes)
    return session


def test_record_show_and_list(lake: Store) -> None:
    first = lake.sessions.record(_session("s-1"))
    assert (first.entity, first.id, first.rev, first.appended) == ("session", "s-1", 1, True)
    second = lake.sessions.record(_session("s-2", outcome="infra_error", started_at=None))
    assert second.seq == (first.seq or 0) + 1
    head = lake.sessions.show("s-1")
    assert head["model"] == "qwen2.5-7b" and head["outcome"] == "success"
    assert [attempt["raw"] for attempt in head["attempts"]] == ["Ada", "Grace"]
    assert head["timings"] == {"total_ms": 1234.5, "validate_ms": 12.0}
    assert head["grounded_in_roster"] is True and head["rev"] == 1
    assert head["created_seq"] == first.seq
    assert lake.sessions.show("s-2")["started_at"] is None
    assert [head["id"] for head in lake.sessions.list()] == ["s-1", "s-2"]


def test_recording_the_same_session_again_appends_nothing(lake: Store, store: Path) -> None:
    first = lake.sessions.record(_session())
    before = head_seq(store)
    again = lake.sessions.record(_session())
    assert (again.id, again.rev, again.appended, again.seq) == ("s-1", 1, False, None)
    assert head_seq(store) == before
    assert lake.sessions.show("s-1")["created_seq"] == first.seq


def test_recording_a_different_session_under_a_used_id_is_a_conflict(
    lake: Store, store: Path
) -> None:
    lake.sessions.record(_session())
    before = head_seq(store)
    with pytest.raises(Conflict, match="different content") as caught:
        lake.sessions.record(_session(outcome="max_iter_exhausted"))
    assert caught.value.fields == {"entity": "session", "id": "s-1"}
    assert caught.value.exit_code == 4
    assert "session show s-1" in (caught.value.hint or "")
    assert head_seq(store) == before
    assert lake.sessions.show("s-1")["outcome"] == "success"


def test_a_stale_if_rev_is_a_conflict_that_appends_nothing(lake: Store, store: Path) -> None:
    before = head_seq(store)
    with pytest.raises(Conflict) as caught:
        lake.sessions.record(_session(), if_rev=1)  # a new session is at rev 0
    assert caught.value.fields == {
        "entity": "session",
        "id": "s-1",
        "expected_rev": 1,
        "actual_rev": 0,
    }
    assert head_seq(store) == before
    assert lake.sessions.record(_session(), if_rev=0).rev == 1
    with pytest.raises(Conflict) as again:
        lake.sessions.record(_session(), if_rev=0)
    assert again.value.fields["actual_rev"] == 1


@pytest.mark.parametrize(
    ("session", "field"),
    [
        ({k: v for k, v in _session().items() if k != "model"}, "model"),
        ({k: v for k, v in _session().items() if k != "attempts"}, "attempts"),
        (_session(id="has space"), "id"),
        (_session(id="x" * 129), "id"),
        (_session(id=""), "id"),
        (_session(model=7), "model"),
        (_session(grounded_in_roster="yes"), "grounded_in_roster"),
        (_session(outcome="crashed"), "outcome"),
        (_session(timings={"total_ms": -1}), "timings.total_ms"),
        (_session(timings={"total_ms": "fast"}), "timings.total_ms"),
        (_session(attempts=[{"prompt": "p", "raw": "r"}]), "attempts.0.verdict"),
        (_session(attempts=[{"prompt": "p", "raw": 1, "verdict": "v"}]), "attempts.0.raw"),
        (
            _session(attempts=[{"prompt": "p", "raw": "r", "verdict": "v", "score": 1}]),
            "attempts.0.score",
        ),
        (_session(cost_usd=0.1), "cost_usd"),
    ],
)
def test_a_malformed_session_names_the_field_and_appends_nothing(
    lake: Store, store: Path, session: dict[str, Any], field: str
) -> None:
    before = head_seq(store)
    with pytest.raises(InvalidInput) as caught:
        lake.sessions.record(session)
    assert caught.value.fields["field"] == field
    assert caught.value.exit_code == 3 and caught.value.hint
    assert head_seq(store) == before
    assert lake.sessions.list() == []


def test_a_session_above_the_record_limit_is_refused_by_the_journal(
    lake: Store, store: Path
) -> None:
    attempts = [{"prompt": "p" * 100_000, "raw": "r" * 100_000, "verdict": "v"}] * 2
    before = head_seq(store)
    with pytest.raises(RecordTooLarge) as caught:
        lake.sessions.record(_session(attempts=attempts))
    assert caught.value.exit_code == 3 and caught.value.fields["field"] == "payload"
    assert head_seq(store) == before
    with pytest.raises(NotFound):
        lake.sessions.show("s-1")


def test_unknown_session_is_not_found(lake: Store) -> None:
    with pytest.raises(NotFound, match="s-nope") as caught:
        lake.sessions.show("s-nope")
    assert caught.value.fields == {"entity": "session", "id": "s-nope"}
    assert caught.value.exit_code == 5 and "session list" in (caught.value.hint or "")


def test_an_idempotency_key_returns_the_first_result(lake: Store, store: Path) -> None:
    first = lake.sessions.record(_session(), idempotency_key="k-1")
    before = head_seq(store)
    again = lake.sessions.record(_session(), idempotency_key="k-1")
    assert (again.seq, again.id, again.replayed, again.appended) == (first.seq, "s-1", True, False)
    assert head_seq(store) == before
    with pytest.raises(Conflict, match="different command") as caught:
        lake.sessions.record(_session("s-2"), idempotency_key="k-1")
    assert caught.value.fields["field"] == "idempotency_key"
    assert head_seq(store) == before
    assert "idempotency" not in lake.sessions.show("s-1")
    with Store.open(store) as reopened:
        assert reopened.sessions.record(_session(), idempotency_key="k-1").seq == first.seq


def test_heads_from_a_checkpoint_plus_tail_equal_heads_from_genesis(
    lake: Store, store: Path
) -> None:
    for i in range(30):
        lake.sessions.record(_session(f"s-{i}", timings={"total_ms": i}))
    checkpoint = lake.checkpoint()
    assert checkpoint.seq == head_seq(store)
    lake.sessions.record(_session("s-after", outcome="max_iter_exhausted"))
    lake.sessions.record(_session("s-3", timings={"total_ms": 3}))  # a no-op after the checkpoint
    with Store.open(store) as from_checkpoint:
        assert from_checkpoint.heads().snapshot is not None
        via_checkpoint = from_checkpoint.heads().tables()
        listed = [head["id"] for head in from_checkpoint.sessions.list()]
    assert listed == [*(f"s-{i}" for i in range(30)), "s-after"]
    for path in (store / "checkpoints").iterdir():
        (path / "manifest.json").unlink()  # no valid checkpoint: heads from genesis
    with Store.open(store) as from_genesis:
        assert from_genesis.heads().snapshot is None
        assert from_genesis.heads().tables() == via_checkpoint
