"""Helpers for the checkpoint tests: a file set whose every byte is known from its seq.

`files_for(seq, scratch)` gives each kind of source the API takes (bytes, a Path to copy,
a callback), in nested directories, with contents derived from the seq alone; so
`assert_whole` can tell a checkpoint's files from another seq's, or a mix of two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from checkpoints import Checkpoint

Source = bytes | Path | Callable[[Path], None]
SIZES = {
    "counts.json": 40,
    "heads/traces/00a1.json": 3000,  # copied from a Path
    "heads/traces/00a2.json": 700,  # written by a callback
    "tables/traces.parquet": 300_000,
    "tables/sessions.parquet": 5000,
}
FILE_COUNT = len(SIZES)


def content(seq: int, relpath: str) -> bytes:
    """The bytes of `relpath` in the checkpoint at `seq`."""
    block = hashlib.sha256(f"{seq}/{relpath}".encode()).digest()
    size = SIZES[relpath]
    return (block * (size // len(block) + 1))[:size]


def expected(seq: int) -> dict[str, bytes]:
    """Every file of the checkpoint at `seq` with its bytes."""
    return {relpath: content(seq, relpath) for relpath in SIZES}


def files_for(seq: int, scratch: Path) -> dict[str, Source]:
    """The files of checkpoint `seq` as the three kinds of source; scratch holds the Path one."""
    scratch.mkdir(parents=True, exist_ok=True)
    source = scratch / f"source-{seq}.json"
    source.write_bytes(content(seq, "heads/traces/00a1.json"))

    def callback(path: Path) -> None:
        path.write_bytes(content(seq, "heads/traces/00a2.json"))

    return {
        "tables/traces.parquet": content(seq, "tables/traces.parquet"),
        "heads/traces/00a1.json": source,
        "heads/traces/00a2.json": callback,
        "counts.json": content(seq, "counts.json"),
        "tables/sessions.parquet": content(seq, "tables/sessions.parquet"),
    }


def assert_whole(checkpoint: Checkpoint) -> None:
    """Every file of `checkpoint` verifies and holds exactly its own seq's bytes."""
    assert checkpoint.verify() == []
    assert checkpoint.meta == {"seq": checkpoint.seq}
    assert set(checkpoint.files) == set(SIZES)
    for relpath, data in expected(checkpoint.seq).items():
        assert checkpoint.read_bytes(relpath) == data, relpath
