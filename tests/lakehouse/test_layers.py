"""Checkpoints proportional to change: tables kept as layers, the unchanged ones shared.

A checkpoint made from the one before shares that one's table files (hard links) and
writes a layer for what its tail changed (lakehouse/_layering.py); layers merge as the
runs of a log-structured merge tree do (projections/_layers.py `plan`). Whatever the chain,
the read models equal a replay from genesis, the digests the meta claims are the real
ones, and pruning keeps every file a kept checkpoint holds.
"""

from __future__ import annotations

import math
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse import Store
from lakehouse._readmodels import LAYERS, META, Fold, layer_files, open_read_models
from lakehouse._snapshot import Snapshot
from projections import GROWTH, MAX_LAYERS, plan
from tests.projections.conftest import OPS, fresh_store, genesis_state, play, state

RUNS = st.lists(st.lists(OPS, min_size=1, max_size=6), min_size=2, max_size=10)


def _models_state(store: Store) -> tuple[dict[str, str], dict[str, str]]:
    """(every table's and view's digest, every table's digest as the newest meta claims)."""
    models, _ = open_read_models(store, locked=False)
    try:
        latest = store.checkpoints.latest_valid()
        assert latest is not None
        claimed = {
            table: digest
            for entry in latest.meta[META].values()
            for table, digest in entry["digests"].items()
        }
        real = {table: models.digest(table) for table in claimed}
        assert claimed == real
        return state(models), claimed
    finally:
        models.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=RUNS)
def test_a_chain_of_checkpoints_reads_as_a_replay_from_genesis(runs: list[list[Any]]) -> None:
    with fresh_store(fsync=False) as store:
        previous = None
        for run in runs:
            play(store, run)
            head = store.journal.head_seq or 0
            if previous is not None and previous.seq == head:
                continue
            made = store.checkpoint()
            got, _ = _models_state(store)
            assert got == genesis_state(store, store.projections(), upto=head)
            assert heads_of(made) == _genesis_heads(store, head)
            for entry in made.meta[META].values():
                for table in entry["tables"]:
                    assert 1 <= len(layer_files(entry, table)) <= MAX_LAYERS
            if previous is not None:
                _assert_built_on(previous, made)
            previous = made
        # pruning to the newest keeps every file it shares with the ones deleted
        want = _models_state(store)
        store.checkpoints.prune(1)
        latest = store.checkpoints.latest_valid()
        assert latest is not None and latest.verify() == []
        assert _models_state(store) == want


def heads_of(checkpoint: Any) -> dict[str, dict[str, Any]]:
    """Every heads table a checkpoint holds (its runs over its shared files applied)."""
    snapshot = Snapshot(checkpoint)
    try:
        return {table: dict(snapshot.items(table)) for table in snapshot.shards}
    finally:
        snapshot.close()


def _genesis_heads(store: Store, upto: int) -> dict[str, dict[str, Any]]:
    """Every heads table folded from genesis up to `upto`."""
    done = Fold(store, None, [])
    try:
        done.advance(upto)
        return {table: rows for table, rows in done.heads.tables().items()}
    finally:
        done.close()


def _assert_built_on(previous: Any, made: Any) -> None:
    """Each table of `made` is some of `previous`'s layers, shared, and at most one new."""
    for name, entry in made.meta[META].items():
        before = previous.meta[META].get(name)
        for table in entry["tables"]:
            now = layer_files(entry, table)
            old = layer_files(before, table) if before else []
            kept = len(now) - 1 if now[:-1] == old[: len(now) - 1] else 0
            assert now[:kept] == old[:kept] and (kept or len(now) == 1), (table, now, old)
            for rows, _, keys in now[:kept]:
                for relpath in (rows, keys):
                    if relpath is not None:
                        assert os.stat(previous.path_of(relpath)).st_ino == (
                            os.stat(made.path_of(relpath)).st_ino
                        ), relpath


def test_a_checkpoint_writes_what_changed_and_shares_the_rest() -> None:
    with fresh_store(fsync=False) as store:
        for n in range(40):
            store.traces.add(text=f"trace {n}", tags=["etl"])
            store.sessions.record(
                {
                    "id": f"s{n}",
                    "model": "m1",
                    "attempts": [],
                    "outcome": "success",
                    "grounded_in_roster": True,
                    "timings": {"total": 0.5},
                }
            )
        first = store.checkpoint()
        store.traces.add(text="one more")
        second = store.checkpoint()
        layers = second.meta[META]["traces"][LAYERS]["traces"]
        # the first checkpoint's table, and the new trace as a layer of one row over it
        assert layers == [
            ["tables/traces.parquet", 40, None],
            [f"tables/traces.{second.seq}.parquet", 1, f"tables/traces.{second.seq}.keys.parquet"],
        ]
        for name in ("tables/traces.parquet", "tables/sessions.parquet"):
            assert os.stat(first.path_of(name)).st_ino == os.stat(second.path_of(name)).st_ino
        written = [
            name
            for name in second.files
            if name.startswith("tables/") and os.stat(second.path_of(name)).st_nlink == 1
        ]
        assert sorted(written) == sorted(
            f"tables/{table}.{second.seq}{suffix}.parquet"
            for table in ("traces", "trace_revisions", "trace_search", "journal")
            for suffix in ("", ".keys")
            if not (suffix and table in ("trace_revisions", "journal"))
        )


def _simulate(base: int, change: int, checkpoints: int) -> tuple[int, int, int]:
    """Apply `plan` to a table of `base` rows changed by `change` rows per checkpoint:
    (the most layers it had, the rows rewritten in all, how often it was written whole)."""
    layers = [base]
    most = rewritten = whole = 0
    for _ in range(checkpoints):
        merged = plan(layers, change)
        whole += merged == len(layers)
        rows = change + sum(layers[len(layers) - merged :])
        layers = [*layers[: len(layers) - merged], rows]
        rewritten += rows
        most = max(most, len(layers))
    return most, rewritten, whole


def test_layers_stay_logarithmic_and_rows_are_rewritten_a_logarithmic_number_of_times() -> None:
    base, change, checkpoints = 1_000_000, 1_000, 2_000
    most, rewritten, whole = _simulate(base, change, checkpoints)
    added = change * checkpoints
    bound = math.ceil(math.log(base + added, GROWTH + 1)) + 2
    assert most <= min(bound, MAX_LAYERS)
    # each new row is rewritten O(log) times, and the base only as often as it grows by 1/GROWTH
    assert rewritten <= added * bound + (base + added) * whole
    assert whole <= math.ceil(math.log(1 + added / base, 1 + 1 / GROWTH)) + 1
    # a checkpoint 1,000 rows after a million-row one writes a layer, not the table
    assert plan([base], change) == 0


def test_plan_merges_small_layers_and_caps_their_number() -> None:
    assert plan([100, 10], 10) == 1  # the 10 below is not GROWTH times bigger: merged
    assert plan([100, 50], 10) == 0
    assert plan([10], 10) == 1  # written whole
    assert plan([], 5) == 0
    many = [GROWTH ** (2 * n) for n in range(MAX_LAYERS, 0, -1)]  # each far bigger than above
    assert plan(many, 1) >= 1 and len(many) - plan(many, 1) + 1 <= MAX_LAYERS


def test_a_base_replaced_under_a_checkpoint_create_is_refused_not_shared() -> None:
    """The layers a create writes were made over the files it read (pinned open): if its
    base's file is another inode by the time it is shared, the create is refused."""
    import pytest

    from checkpoints import CheckpointRefused
    from lakehouse._rebuild import _publish

    with fresh_store(fsync=False) as store:
        for n in range(10):  # enough that one more trace is a layer over them, not a merge
            store.traces.add(text=f"trace {n}")
        base = store.checkpoint()
        store.traces.add(text="one more")
        models, folds = open_read_models(store, locked=False, verify=True)
        try:
            path = base.path_of("tables/traces.parquet")
            data = path.read_bytes()
            os.unlink(path)
            path.write_bytes(data)  # the same bytes, another file
            with pytest.raises(CheckpointRefused, match="replaced"):
                _publish(store, store.checkpoints, models, folds, replace=False, layers=True)
        finally:
            models.close()
        assert [c.seq for c in store.checkpoints.list()] == [base.seq]
