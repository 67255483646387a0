"""The projection contract, run over every projection the registry lists (DESIGN §6-7).

Whatever path a reader takes to a projection's state, it reaches the same one: replaying
the journal from genesis, catching up from any earlier checkpoint, the latest checkpoint
plus its tail, a rebuild that goes through resume points, and a reader opened before a
checkpoint was made and records were appended (it keeps its own seq). States are
compared as `ReadModels.digest` of every table and view the projection contributes.
Then: rebuilds and checkpoints are deterministic, `as_of` means "the journal up to N",
dead letters follow the declared policy, and `rebuild` rebuilds only what is stale.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lakehouse._rebuild as rebuild_module
from lakehouse import Store
from lakehouse._columns import columns
from lakehouse._errors import InvalidInput
from lakehouse._follow import Follower
from lakehouse._readmodels import META, dead_letters, open_read_models
from lakehouse._rebuild import rebuild
from lakehouse._registry import projections as registry_projections
from lakehouse._status import projection_status
from lakehouse._stops import status_path
from lakehouse.catalog._models import REGISTERED, content_payload
from lakehouse.catalog._objects import ObjectInfo
from projections import Changes, Event, Projection, ReadModels, Table
from tests.projections.conftest import (
    HISTORIES,
    fresh_store,
    genesis_state,
    materialise,
    play,
    state,
    write_csvs,
)

NAMES = [projection.name for projection in registry_projections(Path("unused"))]
CONTRACT = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AS_OF = settings(CONTRACT, max_examples=12)  # all projections at once, several seqs each


def test_the_contract_covers_every_projection_of_a_store(tmp_path: Path) -> None:
    """The parametrisation is the store's own list: a new projection is covered as it lands."""
    with Store.open(tmp_path / "s", create=True, checkpoint_every=0) as store:
        assert [p.name for p in store.projections()] == NAMES
    assert len(NAMES) == len(set(NAMES)) >= 7


def _projection(store: Store, name: str) -> Projection:
    return next(p for p in store.projections() if p.name == name)


# -- 1. every path to a projection's state gives the same state --------------------------


@pytest.mark.parametrize("name", NAMES)
@CONTRACT
@given(ops=HISTORIES, resume_points=st.integers(1, 2))
def test_every_path_reaches_the_same_state(name: str, ops: list[Any], resume_points: int) -> None:
    with fresh_store(fsync=False) as store:
        projection = _projection(store, name)
        # checkpoints and rebuilds of this projection alone (with the heads): what they hold
        # of it is what they would hold beside the others, at a seventh of the cost
        store._projections = [projection]
        follower = Follower(store, locked=False)
        kept: list[tuple[ReadModels, int]] = []  # readers opened early, with their seq

        def open_a_reader(store: Store) -> None:
            if not kept:  # before the first checkpoint: the most happens after it
                models, _ = open_read_models(store, locked=False, projections=[projection])
                kept.append((models, models.seq))

        def follow(store: Store, n: int) -> None:
            if n % 4 == 3:  # fold what was appended, or start again from a newer checkpoint
                models = follower.refresh()
                assert models.seq == store.journal.head_seq
                if len(kept) < 2 and models is not follower_start:
                    kept.append((models, models.seq))  # an old generation, held by a query

        follower_start = follower.models
        try:
            made = play(store, ops, before_checkpoint=open_a_reader, after_each=follow)
            want = _check_every_path(store, projection, made, follower, kept)
            _check_a_rebuild_through_resume_points(store, projection, resume_points, want)
        finally:
            for models, _ in kept:
                models.close()
            follower.models.close()


def _check_every_path(
    store: Store,
    projection: Projection,
    made: list[int],
    follower: Follower,
    kept: list[tuple[ReadModels, int]],
) -> dict[str, str]:
    """Check every way of reading the projection against a replay; return the state."""
    name, head = projection.name, store.journal.head_seq or 0
    event(f"checkpoints: {len(made)}")
    event(f"records: {'<10' if head < 10 else '10+'}")
    replayed: dict[int, dict[str, str]] = {}

    def genesis(seq: int) -> dict[str, str]:
        if seq not in replayed:
            replayed[seq] = genesis_state(store, [projection], upto=seq)
        return replayed[seq]

    want = genesis(head)
    assert set(want) >= {table.name for table in projection.tables}

    # the latest checkpoint that holds it, plus the tail after it
    models, _ = open_read_models(store, locked=False, projections=[projection])
    try:
        assert models.parts[name].base_seq == (made[-1] if made else 0)
        assert state(models) == want, "latest checkpoint + tail != genesis"
    finally:
        models.close()

    # catching up from every earlier checkpoint; and what each one claims it holds
    for checkpoint in store.checkpoints.list():
        models = materialise(store, checkpoint, [projection], upto=head)
        try:
            got = state(models)
        finally:
            models.close()
        assert got == want, f"checkpoint {checkpoint.seq} + tail != genesis"
        claimed = checkpoint.meta[META][name]["digests"]
        at_seq = genesis(checkpoint.seq)
        assert claimed == {t: at_seq[t] for t in claimed}, f"meta of {checkpoint.seq}"

    # a follower that folded each few records, restarting after each checkpoint
    models = follower.refresh()
    assert models.seq == head
    assert state(models) == want, "follower != genesis"

    # readers opened earlier (before a checkpoint, or a follower's old generation) still
    # see their own seq after more records and checkpoints
    for models, seq in kept:
        assert state(models) == genesis(seq), f"reader opened at {seq}"
    return want


def _check_a_rebuild_through_resume_points(
    store: Store, projection: Projection, resume_points: int, want: dict[str, str]
) -> None:
    """A rebuild from genesis that leaves resume points on the way gives the same state."""
    name, head = projection.name, store.journal.head_seq or 0
    every = max(1, head // (resume_points + 1))
    report = rebuild(store, [name], resume_every=every)
    assert report.rebuilt == [name]
    assert report.checkpoint is not None and report.checkpoint.seq == head
    models, _ = open_read_models(store, locked=False, projections=[projection])
    try:
        assert models.parts[name].base_seq == head
        assert state(models) == want, "rebuilt through resume points != genesis"
    finally:
        models.close()


# -- 2. determinism ----------------------------------------------------------------------

# a fixed history touching every family, long enough for several rows per table
FIXED = [
    op
    for i in range(12)
    for op in (
        ("add", f"trace number {i} loads the staff table", ["etl"] if i % 2 else []),
        ("add_content", {"i": i, "step": "load"}, ["plan"]),
        ("update", 3 * i, f"trace {i} now validates the roster"),
        ("revise", 5 * i + 1, f"revised trace {i}"),
        ("retire", 7 * i + 2),
        ("session", i, i % 3),
        ("playbook", f"how to load table {i}", ["a", "b"][: 1 + i % 2]),
        ("playbook_retire", 3 * i),
        ("dataset", ("staff", "rates")[i % 2], ("staff1", "staff2", "rates")[i % 3]),
    )
]


def _rows(parquet: bytes) -> list[dict[str, Any]]:
    """The rows of a Parquet file, in file order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(pa.BufferReader(parquet)).to_pylist()
    return rows


def _checkpoint_bytes(store: Store) -> dict[str, bytes]:
    latest = store.checkpoints.latest_valid()
    assert latest is not None
    return {name: latest.read_bytes(name) for name in sorted(latest.files)}


def test_two_rebuilds_of_one_journal_give_the_same_digests_and_files() -> None:
    """Equal journals, equal read models, and the checkpoints' files byte for byte."""
    with fresh_store() as store:
        play(store, FIXED)
        head = store.journal.head_seq or 0
        store.checkpoint()
        first = _checkpoint_bytes(store)
        meta_first = store.checkpoints.latest_valid().meta[META]  # type: ignore[union-attr]

        for _ in range(2):
            report = rebuild(store, everything=True)
            assert report.checkpoint is not None and report.checkpoint.seq == head
            assert sorted(report.rebuilt) == sorted(NAMES)
            again = _checkpoint_bytes(store)
            differ = sorted(name for name in first if first[name] != again.get(name))
            assert differ == [] and again.keys() == first.keys()
            assert store.checkpoints.latest_valid().meta[META] == meta_first  # type: ignore[union-attr]

        # another store holding a copy of the journal (and the dataset objects it names)
        copy = store.root.parent / "copy"
        for part in ("journal", "objects"):
            shutil.copytree(store.root / part, copy / part)
        with Store.open(copy, checkpoint_every=0) as other:
            other.checkpoint()
            theirs = _checkpoint_bytes(other)
        assert theirs.keys() == first.keys()
        assert sorted(name for name in first if first[name] != theirs[name]) == []

        # two folds from genesis
        assert genesis_state(store, store.projections(), upto=head) == genesis_state(
            store, store.projections(), upto=head
        )
        # what the checkpoint says it holds is what a replay from genesis gives
        claimed = {t: d for entry in meta_first.values() for t, d in entry["digests"].items()}
        replayed = genesis_state(store, store.projections(), upto=head)
        assert claimed == {table: replayed[table] for table in claimed}
        assert len(claimed) == sum(len(p.tables) for p in store.projections())
        assert all(int(digest.split(":")[0]) > 0 for digest in claimed.values())


# -- 3. as_of ----------------------------------------------------------------------------


@AS_OF
@given(ops=HISTORIES, cuts=st.lists(st.floats(0, 1), min_size=1, max_size=2))
def test_as_of_is_the_journal_replayed_up_to_that_seq(ops: list[Any], cuts: list[float]) -> None:
    with fresh_store(fsync=False) as store:
        made = play(store, ops)
        head = store.journal.head_seq or 0
        # somewhere before, at and after a checkpoint, and anywhere
        seqs = {round(cut * head) for cut in cuts}
        if made:
            seqs |= {made[0] - 1, made[-1], min(made[-1] + 1, head)}
        projections = store.projections()
        for seq in sorted(seqs):
            models, _ = open_read_models(store, as_of=seq, locked=False)
            try:
                assert models.seq == seq
                want_base = max((m for m in made if m <= seq), default=0)
                assert {p.base_seq for p in models.parts.values()} == {want_base}
                assert state(models) == genesis_state(store, projections, upto=seq)
                records = sum(1 for r in store.journal.read() if r.seq <= seq)
                assert models.query("SELECT count(*), coalesce(max(seq), 0) FROM journal") == [
                    (records, seq)
                ]
            finally:
                models.close()


def test_as_of_through_the_locked_store_api_and_out_of_range() -> None:
    with fresh_store() as store:
        play(store, FIXED[:20])
        middle = store.journal.head_seq or 0
        store.checkpoint()
        play(store, FIXED[20:40])
        head = store.journal.head_seq or 0
        for seq in (1, middle - 1, middle, middle + 1, head):
            models = store.read_models(as_of=seq)
            try:
                assert models.query("SELECT max(seq) FROM journal") == [(seq,)]
                assert state(models) == genesis_state(store, store.projections(), upto=seq)
            finally:
                models.close()
        for seq in (-1, head + 1, head + 100):
            with pytest.raises(InvalidInput) as caught:
                store.read_models(as_of=seq)
            assert caught.value.fields["head_seq"] == head
            assert str(head) in str(caught.value)


# -- 4. dead letters ---------------------------------------------------------------------


class Fragile(Projection):
    """A test projection: one row per trace added, and it cannot take a retirement."""

    name = "fragile"
    kinds = frozenset({"trace.added", "trace.retired"})
    tables: ClassVar[tuple[Table, ...]] = (
        Table("fragile_rows", columns("id VARCHAR", "seq BIGINT"), key="id"),
    )

    def apply(self, event: Event, changes: Changes) -> None:
        if event.record.kind == "trace.retired":
            raise RuntimeError(f"cannot retire {event.record.id}")
        changes["fragile_rows"].put((event.record.id, event.record.seq))


class FragileSkip(Fragile):
    policy = "skip"


def _fragile_history(store: Store) -> tuple[list[str], int]:
    ids = [store.traces.add(text=f"note {i}").id for i in range(4)]
    retired = store.traces.retire(ids[1], reason="gone").seq
    store.traces.add(text="after the bad record")
    assert retired is not None
    return ids, retired


def test_skip_policy_records_a_dead_letter_and_goes_on() -> None:
    with fresh_store() as store:
        ids, bad = _fragile_history(store)
        head = store.journal.head_seq or 0
        projection = FragileSkip()
        models = materialise(store, None, [projection], upto=head)
        try:
            letters = models.parts["fragile"].changes.dead_letters
            assert [(d.projection, d.seq, d.kind, d.id) for d in letters] == [
                ("fragile", bad, "trace.retired", ids[1])
            ]
            assert letters[0].error == f"RuntimeError: cannot retire {ids[1]}"
            # the records before and after it were applied
            assert models.query("SELECT count(*) FROM fragile_rows") == [(5,)]
            assert models.parts["fragile"].watermark == head
        finally:
            models.close()


def test_dead_letters_are_kept_in_checkpoints_and_shown_by_status() -> None:
    with fresh_store() as store:
        ids, bad = _fragile_history(store)
        store._projections = [*store.projections(), FragileSkip()]
        checkpoint = store.checkpoint()
        kept = checkpoint.meta[META]["fragile"]["dead_letters"]
        assert [(d["seq"], d["kind"]) for d in kept] == [(bad, "trace.retired")]
        again = store.traces.retire(ids[2]).seq
        models, _ = open_read_models(store, locked=False)
        try:
            letters = dead_letters(models.parts["fragile"])
            assert [(d["seq"], d["kind"]) for d in letters] == [
                (bad, "trace.retired"),
                (again, "trace.retired"),
            ]
        finally:
            models.close()
        row = next(r for r in projection_status(store) if r["projection"] == "fragile")
        assert (row["dead_letters"], row["policy"]) == (2, "skip")


def test_stop_policy_stops_that_projection_alone_naming_projection_seq_and_kind() -> None:
    with fresh_store() as store:
        _, bad = _fragile_history(store)
        head = store.journal.head_seq or 0
        models = materialise(store, None, [Fragile()], upto=head)
        try:
            stop = models.parts["fragile"].changes.stopped
            assert stop is not None
            assert (stop.fields["projection"], stop.fields["seq"], stop.fields["kind"]) == (
                "fragile",
                bad,
                "trace.retired",
            )
            assert f"projection fragile cannot apply record seq {bad} (trace.retired)" in str(stop)
            assert models.parts["fragile"].watermark == bad - 1  # all before it, nothing after
            # its table answers no query, whatever the query filters on, and says why
            for query in ("SELECT * FROM fragile_rows", "SELECT count(*) FROM fragile_rows"):
                with pytest.raises(duckdb.InvalidInputException, match=f"record seq {bad}"):
                    models.query(query)
            with pytest.raises(duckdb.InvalidInputException):
                models.query("SELECT count(*) FROM fragile_rows WHERE seq = 1")
        finally:
            models.close()
        # beside the other projections: they are served; the stop is remembered for
        # `projections status`, and a checkpoint carries it without the table
        store._projections = [*store.projections(), Fragile()]
        models, _ = open_read_models(store, locked=False)
        try:
            assert models.query("SELECT count(*) FROM traces") == [(5,)]
            assert list(models.stopped) == ["fragile"]
        finally:
            models.close()
        assert "fragile" in status_path(store.root).read_text()
        kept = store.checkpoint().meta[META]["fragile"]
        assert (kept["tables"], kept["stopped"]["fields"]["seq"]) == ([], bad)
        models, _ = open_read_models(store, locked=False)
        try:
            assert models.parts["fragile"].watermark == bad - 1
            with pytest.raises(duckdb.InvalidInputException, match=f"record seq {bad}"):
                models.query("SELECT * FROM fragile_rows")
        finally:
            models.close()


def test_a_dataset_named_like_a_read_model_is_a_dead_letter_and_gets_no_view() -> None:
    with fresh_store() as store:
        csvs = write_csvs(store.root.parent / "csv")
        with pytest.raises(InvalidInput):
            store.datasets.ingest("traces", csvs["staff1"])  # the command layer refuses it
        store.datasets.ingest("staff", csvs["staff1"])
        # a record written by something that did not ask the command layer (an old version)
        shown = store.datasets.show("staff")
        info = ObjectInfo(
            path=shown["files"][0]["path"],
            sha256=shown["files"][0]["sha256"],
            bytes=shown["files"][0]["bytes"],
            rows=shown["rows"],
            schema=shown["schema"],
            fingerprint=shown["fingerprint"],
        )
        source = {"format": "parquet", "file": csvs["staff1"].name, "bytes": 0}
        payload = content_payload("traces", info, source)
        bad = store.journal.append(
            kind=REGISTERED.name, entity="dataset", id="traces", payload=payload, rev=1
        )
        store.datasets.ingest("rates", csvs["rates"])
        store.forget_heads()
        for checkpointed in (False, True):
            if checkpointed:
                store.checkpoint()
            models, _ = open_read_models(store, locked=False)
            try:
                letters = dead_letters(models.parts["catalog"])
                assert [(d["seq"], d["kind"], d["id"]) for d in letters] == [
                    (bad.seq, REGISTERED.name, "traces")
                ]
                assert "read model" in letters[0]["error"]
                assert sorted(models.views) == ["rates", "staff"]
                # `traces` is still the traces read model, not the dataset
                columns = [row[0] for row in models.query("DESCRIBE traces")]
                assert "uid" in columns and "name" not in columns
                assert models.query("SELECT count(*) FROM staff") == [(2,)]
                assert models.query("SELECT count(*) FROM rates") == [(1,)]
            finally:
                models.close()


# -- 6. rebuild --------------------------------------------------------------------------


def test_rebuild_with_nothing_stale_rebuilds_nothing() -> None:
    with fresh_store() as store:
        play(store, FIXED[:30])
        store.checkpoint()
        report = rebuild(store)
        assert report.rebuilt == [] and report.checkpoint is None
        assert sorted(report.kept) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_changed_fingerprint_makes_exactly_that_projection_stale(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_store() as store:
        play(store, FIXED[:30])
        before = store.checkpoint()
        play(store, FIXED[30:40])
        head = store.journal.head_seq or 0
        projection = _projection(store, name)
        old = projection.fingerprint
        monkeypatch.setattr(type(projection), "version", projection.version + 1)
        assert projection.fingerprint != old
        stale_rows = [r["projection"] for r in projection_status(store) if r["state"] != "current"]
        assert stale_rows == [name]
        # until it is rebuilt, reads fold it from genesis and the others from the checkpoint
        models, _ = open_read_models(store, locked=False)
        try:
            assert {n: p.base_seq for n, p in models.parts.items()} == {
                n: 0 if n == name else before.seq for n in NAMES
            }
            want = state(models)
        finally:
            models.close()
        report = rebuild(store)
        assert report.rebuilt == [name]
        assert sorted(report.kept) == sorted(set(NAMES) - {name})
        assert report.checkpoint is not None and report.checkpoint.seq == head
        models, _ = open_read_models(store, locked=False)
        try:
            assert {p.base_seq for p in models.parts.values()} == {head}
            assert state(models) == want == genesis_state(store, store.projections(), upto=head)
        finally:
            models.close()
        assert rebuild(store).rebuilt == []


class PublishFailed(RuntimeError):
    """The injected failure: the rebuild's final checkpoint cannot be written."""


def _fail_final_publish(monkeypatch: pytest.MonkeyPatch, store: Store, every: int) -> list[int]:
    """Run a rebuild whose final checkpoint cannot be written; the resume points it left."""
    real = rebuild_module._publish
    calls: list[int] = []

    def publish(store_: Store, target: Any, *args: Any, **kwargs: Any) -> Any:
        if target is store_.checkpoints:
            calls.append(1)
            raise PublishFailed("disk full at the last step")
        return real(store_, target, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(rebuild_module, "_publish", publish)
        with pytest.raises(PublishFailed):
            rebuild(store, everything=True, resume_every=every, bulk=False)
    assert calls == [1] and store.checkpoints.list() == []
    head = store.journal.head_seq or 0
    points = sorted(int(p.name.split("-")[1]) for p in _shadow(store).iterdir())
    assert points and points[-1] == (head - 1) // every * every
    return points


def _shadow(store: Store) -> Path:
    return store.root / "projections" / "cache" / "rebuild" / "checkpoints"


def test_a_rebuild_never_resumes_from_a_damaged_resume_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fresh_store() as store:
        play(store, FIXED[:40])
        points = _fail_final_publish(monkeypatch, store, 7)
        assert len(points) >= 2
        # a flipped byte of the same size passes the cheap check, not the full one
        damaged = _shadow(store) / f"ckpt-{points[-1]:020d}" / "heads" / "trace.json"
        data = bytearray(damaged.read_bytes())
        data[len(data) // 2] ^= 0x01
        damaged.write_bytes(bytes(data))
        report = rebuild(store, everything=True, resume_every=7, bulk=False)
        assert report.resumed_from == points[-2]
        resumed_files = _checkpoint_bytes(store)
        rebuild(store, everything=True)
        assert _checkpoint_bytes(store) == resumed_files


def test_a_failed_rebuild_resumes_from_its_last_resume_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fresh_store() as store:
        play(store, FIXED[:40])
        head = store.journal.head_seq or 0
        every = 7
        points = _fail_final_publish(monkeypatch, store, every)
        shadow = _shadow(store)

        report = rebuild(store, everything=True, resume_every=every, bulk=False)
        assert report.resumed_from == points[-1] > 0
        assert report.checkpoint is not None and report.checkpoint.seq == head
        assert not shadow.exists()
        models, _ = open_read_models(store, locked=False)
        try:
            resumed = state(models)
        finally:
            models.close()
        resumed_files = _checkpoint_bytes(store)
        clean = rebuild(store, everything=True)
        assert clean.resumed_from == 0
        # every table, index, heads file and catalog.json equal byte for byte
        clean_files = _checkpoint_bytes(store)
        assert clean_files.keys() == resumed_files.keys()
        for name, data in clean_files.items():
            assert data == resumed_files[name], name
        models, _ = open_read_models(store, locked=False)
        try:
            assert state(models) == resumed == genesis_state(store, store.projections(), upto=head)
        finally:
            models.close()


def test_a_chained_checkpoint_holds_in_layers_the_rows_a_rebuild_writes_whole() -> None:
    """A checkpoint made from the one before plus a tail shares that one's table files and
    adds a layer per table the tail changed (lakehouse/_layering.py); a rebuild from
    genesis at the same seq writes each table whole. Read through their layers, the two
    hold the same rows, and every heads file and catalog.json is equal byte for byte.

    The HNSW indexes are left out: a checkpoint updates the one before's index with the
    tail rather than building it anew, so its graph (and bytes) depend on the path by
    design; search tests check what it answers.
    """
    with fresh_store() as store:
        play(store, FIXED[:30])
        first = store.checkpoint()
        play(store, FIXED[30:40])
        chained_checkpoint = store.checkpoint()  # from the first checkpoint plus the tail
        chained = _checkpoint_bytes(store)
        chained_tables = _layered_tables(chained_checkpoint)
        shared = [
            name
            for name in first.files
            if name.startswith("tables/")
            and name in chained_checkpoint.files
            and os.stat(first.path_of(name)).st_ino
            == os.stat(chained_checkpoint.path_of(name)).st_ino
        ]
        rebuild(store, everything=True)  # the same seq, from genesis
        clean = _checkpoint_bytes(store)
        latest = store.checkpoints.latest_valid()
        assert latest is not None
        clean_tables = _layered_tables(latest)
    # (checked outside the store's block: this known failure keeps no store)
    assert shared, "no table file of the first checkpoint was shared by the second"
    assert any(".keys." in name for name in chained), "the tail wrote no layer"
    assert not any(name.count(".") > 1 for name in clean if name.startswith("tables/"))
    assert chained_tables == clean_tables
    differ = sorted(name for name in clean if clean.get(name) != chained.get(name))
    assert [name for name in differ if not name.startswith(("index/", "tables/"))] == []


def _layered_tables(checkpoint: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a checkpoint read through its layers, rows sorted."""
    from lakehouse._readmodels import layer_files
    from projections import Layer, layered, literal

    tables: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect() as con:
        for name, entry in checkpoint.meta[META].items():
            root = checkpoint.path.parent.parent
            projection = next(p for p in registry_projections(root) if p.name == name)
            for table in projection.tables:
                layers = [
                    Layer(
                        f"read_parquet({literal(str(checkpoint.path_of(rows)))})",
                        None
                        if keys is None
                        else f"read_parquet({literal(str(checkpoint.path_of(keys)))})",
                        count,
                    )
                    for rows, count, keys in layer_files(entry, table.name)
                ]
                rows = con.sql(layered(layers, table.key)).fetchall()
                tables[table.name] = sorted(rows, key=repr)
    return tables
