"""Dead letters and stopped projections, as the quick check and the verify report them."""

from __future__ import annotations

from typing import ClassVar

import pytest

from lakehouse import Store
from lakehouse._columns import columns
from lakehouse.doctor import diagnose, verify
from projections import Changes, Event, Projection, Table
from tests.doctor._util import Built


class Fragile(Projection):
    """One row per trace added; it cannot take an update (the tail after the checkpoint)."""

    name = "fragile"
    kinds = frozenset({"trace.added", "trace.updated"})
    policy = "skip"
    tables: ClassVar[tuple[Table, ...]] = (
        Table("fragile_rows", columns("id VARCHAR", "seq BIGINT"), key="id"),
    )

    def apply(self, event: Event, changes: Changes) -> None:
        if event.record.kind == "trace.updated":
            raise RuntimeError(f"cannot update {event.record.id}")
        changes["fragile_rows"].put((event.record.id, event.record.seq))


class Stubborn(Fragile):
    name = "stubborn"
    policy = "stop"
    tables: ClassVar[tuple[Table, ...]] = (
        Table("stubborn_rows", columns("id VARCHAR", "seq BIGINT"), key="id"),
    )

    def apply(self, event: Event, changes: Changes) -> None:
        if event.record.kind == "trace.updated":
            raise RuntimeError(f"cannot update {event.record.id}")
        changes["stubborn_rows"].put((event.record.id, event.record.seq))


def _with(monkeypatch: pytest.MonkeyPatch, extra: Projection) -> None:
    """Every Store opened from now on has `extra` among its projections."""
    real = Store.projections

    def projections(self: Store) -> list[Projection]:
        return [*real(self), extra]

    monkeypatch.setattr(Store, "projections", projections)


def _updated_seqs(built: Built) -> list[int]:
    """The seqs of the trace.updated records (all after the checkpoint)."""
    from journal import Journal

    with Journal.open(built.root) as journal:
        return [r.seq for r in journal.read() if r.kind == "trace.updated"]


def test_dead_letters_of_the_tail_and_of_genesis(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with(monkeypatch, Fragile())
    first = _updated_seqs(built)[0]
    for report in (diagnose(built.root), verify(built.root)):
        letters = [f for f in report.findings if f.code == "dead_letters"]
        assert [(f.severity, f.seq) for f in letters] == [("warning", first)]
        assert letters[0].message.startswith("projection fragile skipped 3 records")
        assert report.counts["dead_letters"] == 3 and report.healthy
        rows = {row["projection"]: row for row in report.projections}
        if report.mode == "quick":  # the verify counts them from genesis, not per row
            assert rows["fragile"]["dead_letters"] == 3


def test_a_projection_that_stops(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, Stubborn())
    first = _updated_seqs(built)[0]
    for report in (diagnose(built.root), verify(built.root)):
        assert report.exit_code == 7 and report.codes("error") == ["projection_stopped"]
        stopped = next(f for f in report.findings if f.code == "projection_stopped")
        assert stopped.seq == first
        assert f"projection stubborn cannot apply record seq {first}" in stopped.message
