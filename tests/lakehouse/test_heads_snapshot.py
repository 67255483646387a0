"""The heads snapshot in a checkpoint: every lookup right, and one lookup's reads bounded.

A head is found with two small reads (its shard's offsets and checksum, then the shard)
whatever the number of heads, and checkpoints written before the offsets moved out of the manifest
(every shard's (offset, length) in the meta) are still read.
"""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpoints import CheckpointStore
from lakehouse import Store, _snapshot
from lakehouse._errors import SnapshotDamaged
from lakehouse._snapshot import SHARD_TARGET, Snapshot, shard_count, shard_of, snapshot_files


def _tables(count: int) -> dict[str, dict[str, Any]]:
    heads = {f"trc_{n:06d}": {"rev": n % 7 + 1, "text": "x" * (n % 50)} for n in range(count)}
    return {"trace": heads, "keys": {}, "trace_content": {"h1": ["trc_000001"]}}


def _checkpoint(
    root: Path, files: dict[str, bytes], meta: dict[str, Any], seq: int = 10
) -> Snapshot:
    store = CheckpointStore(root)
    return Snapshot(store.create(seq, files, meta=meta))


def test_every_head_is_found_and_iterated(tmp_path: Path) -> None:
    tables = _tables(5000)
    files, meta = snapshot_files(None, tables)
    shards = meta["heads"]
    assert shards["trace"] == shard_count(5000)
    snapshot = _checkpoint(tmp_path, files, meta)
    try:
        for key, head in tables["trace"].items():
            assert snapshot.get("trace", key) == head
        assert snapshot.get("trace", "trc_missing") is None
        assert snapshot.get("no_such_table", "trc_000001") is None
        assert dict(snapshot.items("trace")) == tables["trace"]
        assert dict(snapshot.items("keys")) == {}
        assert snapshot.get("trace_content", "h1") == ["trc_000001"]
    finally:
        snapshot.close()


def test_the_manifest_holds_shard_counts_only(tmp_path: Path) -> None:
    files, meta = snapshot_files(None, _tables(20_000))
    snapshot = _checkpoint(tmp_path, files, meta)
    try:
        manifest = orjson.loads((snapshot.checkpoint.path / "manifest.json").read_bytes())
        assert manifest["meta"]["heads"] == {"trace": 4096, "keys": 1, "trace_content": 1}
        assert manifest["meta"]["head_entries"] == {"trace": 20_000, "keys": 0, "trace_content": 1}
    finally:
        snapshot.close()


@pytest.mark.parametrize("count", [1_000, 100_000])
def test_one_lookup_reads_two_small_regions_whatever_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    tables = _tables(count)
    files, meta = snapshot_files(None, tables)
    shards = meta["heads"]
    snapshot = _checkpoint(tmp_path, files, meta)
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        reads.append(length)
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", counting_pread)
    try:
        key = f"trc_{count // 2:06d}"
        assert snapshot.get("trace", key) == tables["trace"][key]
        shard = orjson.dumps(
            {
                k: v
                for k, v in tables["trace"].items()
                if shard_of(k, shards["trace"]) == shard_of(key, shards["trace"])
            },
            option=orjson.OPT_SORT_KEYS,
        )
        assert reads == [20, len(shard)]  # the shard's offsets and CRC-32, then the shard
        # a shard holds about SHARD_TARGET heads, so what one lookup reads stays bounded
        assert len(shard) < 4 * SHARD_TARGET * 100
    finally:
        snapshot.close()


def test_a_checkpoint_in_the_older_layout_is_still_read(tmp_path: Path) -> None:
    tables = _tables(3000)
    files: dict[str, bytes] = {}
    offsets: dict[str, list[list[int]]] = {}
    for table, entries in tables.items():
        count = 64 if table == "trace" else 1
        parts: list[dict[str, Any]] = [{} for _ in range(count)]
        for key, value in entries.items():
            parts[shard_of(key, count)][key] = value
        blobs = [orjson.dumps(part, option=orjson.OPT_SORT_KEYS) for part in parts]
        starts = [sum(len(blob) for blob in blobs[:n]) for n in range(count)]
        offsets[table] = [[start, len(blob)] for start, blob in zip(starts, blobs, strict=True)]
        files[f"heads/{table}.json"] = b"".join(blobs)
    snapshot = _checkpoint(tmp_path, files, {"heads": offsets})
    try:
        for key, head in tables["trace"].items():
            assert snapshot.get("trace", key) == head
        assert dict(snapshot.items("trace")) == tables["trace"]
        assert snapshot.get("trace_content", "h1") == ["trc_000001"]
    finally:
        snapshot.close()


KEYS_ = st.text(alphabet="abcdef0123", min_size=1, max_size=4)
VALUES = st.one_of(st.none(), st.integers(0, 9), st.lists(st.integers(0, 9), max_size=2))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.dictionaries(KEYS_, st.integers(0, 9), max_size=300),
    changes=st.dictionaries(KEYS_, VALUES, max_size=40),
)
def test_a_snapshot_patched_shard_by_shard_equals_one_written_whole(
    tmp_path: Path, base: dict[str, int], changes: dict[str, Any]
) -> None:
    first_files, first_meta = snapshot_files(None, {"trace": base, "keys": {}})
    root = tmp_path / f"ckpts-{uuid.uuid4().hex}"
    root.mkdir()
    snapshot = _checkpoint(root, first_files, first_meta)
    try:
        patched = snapshot_files(snapshot, {"trace": changes, "keys": {}})
        loaded = {number for table, number in snapshot._loaded if table == "trace"}
    finally:
        snapshot.close()
    after = {**base, **changes}
    whole = snapshot_files(
        None, {"trace": {k: v for k, v in after.items() if v is not None}, "keys": {}}
    )
    assert patched == whole
    count = first_meta["heads"]["trace"]
    if patched[1]["heads"]["trace"] == count:  # patched: only the touched shards were read
        assert loaded <= {shard_of(key, count) for key in changes}


def test_an_incremental_checkpoint_holds_the_heads_a_rebuild_from_genesis_writes(
    store: Path,
) -> None:
    """A checkpoint made from the one before shares its heads files and adds a run of the
    keys that changed (lakehouse/_snapshot.py); a rebuild writes every table whole. Both
    hold the same heads, key for key."""
    import os

    from lakehouse import Store
    from lakehouse._rebuild import create_checkpoint, rebuild
    from lakehouse._snapshot import RUNS
    from tests.lakehouse.test_layers import heads_of

    with Store.open(store, checkpoint_every=0, durability="none") as lake:
        uids = [lake.traces.add(text=f"t{n}", tags=[f"g{n % 3}"]).id for n in range(60)]
        lake.playbooks.record(query="staff for the quarter", endorsed=["a", "b"], target_count=2)
        first = create_checkpoint(lake)
        lake.traces.update(uids[0], text="changed", idempotency_key="k-1")
        lake.traces.revise(uids[1], text="revised")
        lake.traces.retire(uids[2])
        lake.traces.add(text="t5", idempotent=True)
        lake.traces.add(text="brand new")
        incremental = create_checkpoint(lake)
        assert incremental.seq > first.seq and "head_entries" in first.meta
        # the first checkpoint's trace heads are shared, the changes a run of their own
        assert (
            os.stat(first.path_of("heads/trace.json")).st_ino
            == os.stat(incremental.path_of("heads/trace.json")).st_ino
        )
        [(seq, _, changed)] = incremental.meta[RUNS]["trace"]
        layered = heads_of(incremental)
        before = heads_of(first)["trace"]
        differ = [uid for uid, head in layered["trace"].items() if before.get(uid) != head]
        assert seq == incremental.seq and changed == len(differ) >= 5
        report = rebuild(lake, everything=True)  # from genesis, replacing the one at that seq
        assert report.checkpoint is not None and report.checkpoint.seq == incremental.seq
        assert RUNS not in report.checkpoint.meta
        assert heads_of(report.checkpoint) == layered
        assert report.checkpoint.meta["head_entries"] == incremental.meta["head_entries"]
        assert incremental.meta["head_entries"]["trace"] == 62


def _damage(snapshot: Snapshot, relpath: str, at: int, value: bytes) -> None:
    path = snapshot.checkpoint.path / relpath
    data = bytearray(path.read_bytes())
    data[at : at + len(value)] = value
    path.write_bytes(bytes(data))  # same size: the cheap check passes


@pytest.mark.parametrize(
    ("relpath", "at", "value", "what"),
    [
        ("heads/trace.json", 40, b"#", "shard 0 does not match its CRC-32"),
        ("heads/trace.idx", 0, struct.pack("<Q", 1 << 60), "gives shard 0 bytes 1152921504"),
        ("heads/trace.idx", 8, b"\0\0\0\0", "shard 0 does not match its CRC-32"),
    ],
    ids=["a-byte-of-the-shard", "its-offset", "its-crc"],
)
def test_a_shard_is_verified_as_it_is_read(
    tmp_path: Path, relpath: str, at: int, value: bytes, what: str
) -> None:
    files, meta = snapshot_files(None, _tables(10))
    snapshot = _checkpoint(tmp_path, files, meta)
    try:
        assert snapshot.shards["trace"] == 2 and snapshot.checkpoint.valid
        _damage(snapshot, relpath, at, value)
        with pytest.raises(SnapshotDamaged, match=what) as raised:
            snapshot.get("trace", next(k for k in _tables(10)["trace"] if shard_of(k, 2) == 0))
        assert raised.value.fields["checkpoint"] == snapshot.checkpoint.name
        with pytest.raises(SnapshotDamaged):  # nor are its bytes copied into a new checkpoint
            snapshot_files(snapshot, {"trace": {"trc_new": 1}, "keys": {}})
        other = next(k for k in _tables(10)["trace"] if shard_of(k, 2) == 1)
        assert snapshot.get("trace", other) == _tables(10)["trace"][other]  # shard 1 is sound
    finally:
        snapshot.close()


def _without_checksums(files: dict[str, bytes], meta: dict[str, Any]) -> dict[str, Any]:
    """Files and meta as checkpoints wrote them before the .idx held CRC-32s."""
    for name in [name for name in files if name.endswith(".idx")]:
        entries = struct.iter_unpack("<QI", files[name])
        offsets = [offset for offset, _ in entries]
        files[name] = struct.pack(f"<{len(offsets)}Q", *offsets)
    return {key: value for key, value in meta.items() if key != "head_checks"}


def test_a_checkpoint_without_checksums_is_hashed_whole_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _tables(3000)
    files, meta = snapshot_files(None, tables)
    snapshot = _checkpoint(tmp_path, files, _without_checksums(files, meta))
    hashed: list[int] = []
    real = _snapshot.file_sha256
    monkeypatch.setattr(_snapshot, "file_sha256", lambda fd: hashed.append(fd) or real(fd))
    try:
        for key, head in list(tables["trace"].items())[:50]:
            assert snapshot.get("trace", key) == head
        assert len(hashed) == 2  # trace.json and trace.idx, once
        assert dict(snapshot.items("trace")) == tables["trace"] and len(hashed) == 2
    finally:
        snapshot.close()
    files, meta = snapshot_files(None, tables)
    (tmp_path / "damaged").mkdir()
    snapshot = _checkpoint(tmp_path / "damaged", files, _without_checksums(files, meta))
    try:
        _damage(snapshot, "heads/trace.json", len(files["heads/trace.json"]) // 2, b"#")
        with pytest.raises(SnapshotDamaged, match=r"trace\.json does not match the sha256"):
            snapshot.get("trace", "trc_000001")
    finally:
        snapshot.close()


def test_closing_a_store_closes_the_files_of_its_cached_heads(tmp_path: Path) -> None:
    """Store and its cached Heads refer to each other, so the collector would have to close
    the snapshot's files, and a fold's gc.freeze() can keep that cycle forever."""
    import gc

    root = tmp_path / "s"
    with Store.open(root, create=True, checkpoint_every=0) as store:
        store.traces.add(text="one")
        store.checkpoint()
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    gc.disable()  # only what close() releases counts
    try:
        for _ in range(3):
            with Store.open(root, checkpoint_every=0) as store:
                store.traces.add(text="two")  # a command loads the heads from the checkpoint
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        gc.enable()


KEYS = st.sampled_from([f"trc_{n:03d}" for n in range(40)])
CHANGES = st.dictionaries(KEYS, st.one_of(st.none(), st.integers(1, 9)), max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.dictionaries(KEYS, st.integers(1, 9), max_size=30),
    steps=st.lists(CHANGES, max_size=12),
)
def test_runs_over_shared_heads_read_as_the_heads_written_whole(
    tmp_path_factory: pytest.TempPathFactory, first: dict[str, int], steps: list[dict[str, Any]]
) -> None:
    """Checkpoints each made from the one before (`seq` given: runs of the changed keys
    over the shared files, merged as they grow) hold, key for key, what one written whole
    from the same heads holds, removals included."""
    from lakehouse._snapshot import RUNS

    root = tmp_path_factory.mktemp("runs")
    CheckpointStore(root).root.mkdir(exist_ok=True)
    want = dict(first)
    files, meta = snapshot_files(None, {"trace": first})
    base = _checkpoint(root, files, meta, seq=1)
    try:
        for seq, changes in enumerate(steps, start=2):
            files, meta = snapshot_files(base, {"trace": changes}, seq=seq)
            want.update(changes)
            want = {key: value for key, value in want.items() if value is not None}
            made = _checkpoint(root, files, meta, seq=seq)
            base.close()
            base = made
            assert dict(base.items("trace")) == want
            assert all(base.get("trace", key) == want.get(key) for key in [*first, "trc_999"])
            assert base.entries["trace"] == len(want)
            assert len(base.runs.get("trace", [])) < 12
            assert (RUNS in meta) == bool(base.runs.get("trace"))
    finally:
        base.close()


def test_a_damaged_run_is_refused_as_a_damaged_shard_is(tmp_path: Path) -> None:
    files, meta = snapshot_files(None, _tables(200))
    base = _checkpoint(tmp_path, files, meta, seq=1)
    files, meta = snapshot_files(base, {"trace": {"trc_000003": {"rev": 9}}}, seq=2)
    base.close()
    made = _checkpoint(tmp_path, files, meta, seq=2)
    made.close()
    _damage(made, "heads/trace.2.json", 3, b"#")
    snapshot = Snapshot(made.checkpoint)
    try:
        with pytest.raises(SnapshotDamaged) as caught:
            snapshot.get("trace", "trc_000003")
        assert caught.value.fields["file"] == "heads/trace.2.json"
    finally:
        snapshot.close()
