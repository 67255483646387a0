"""The heads snapshot in a checkpoint: every lookup right, and one lookup's reads bounded.

A head is found with two small reads (its shard's offsets, then the shard) whatever the
number of heads, and checkpoints written before the offsets moved out of the manifest
(every shard's (offset, length) in the meta) are still read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from checkpoints import CheckpointStore
from lakehouse._heads import SHARD_TARGET, Snapshot, shard_count, shard_of, snapshot_files


def _tables(count: int) -> dict[str, dict[str, Any]]:
    heads = {f"trc_{n:06d}": {"rev": n % 7 + 1, "text": "x" * (n % 50)} for n in range(count)}
    return {"trace": heads, "keys": {}, "trace_content": {"h1": ["trc_000001"]}}


def _checkpoint(root: Path, files: dict[str, bytes], shards: dict[str, Any]) -> Snapshot:
    store = CheckpointStore(root)
    return Snapshot(store.create(10, files, meta={"heads": shards}))


def test_every_head_is_found_and_iterated(tmp_path: Path) -> None:
    tables = _tables(5000)
    files, shards = snapshot_files(tables)
    assert shards["trace"] == shard_count(5000)
    snapshot = _checkpoint(tmp_path, files, shards)
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
    files, shards = snapshot_files(_tables(20_000))
    snapshot = _checkpoint(tmp_path, files, shards)
    try:
        manifest = orjson.loads((snapshot.checkpoint.path / "manifest.json").read_bytes())
        assert manifest["meta"]["heads"] == {"trace": 4096, "keys": 1, "trace_content": 1}
    finally:
        snapshot.close()


@pytest.mark.parametrize("count", [1_000, 100_000])
def test_one_lookup_reads_two_small_regions_whatever_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    tables = _tables(count)
    files, shards = snapshot_files(tables)
    snapshot = _checkpoint(tmp_path, files, shards)
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
        assert reads == [16, len(shard)]
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
    snapshot = _checkpoint(tmp_path, files, offsets)
    try:
        for key, head in tables["trace"].items():
            assert snapshot.get("trace", key) == head
        assert dict(snapshot.items("trace")) == tables["trace"]
        assert snapshot.get("trace_content", "h1") == ["trc_000001"]
    finally:
        snapshot.close()
