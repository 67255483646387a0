"""Damage a checkpoint every way a disk or a person can: each is found, named, and skipped.

The store holds a good checkpoint at 10 and the one damaged at 20. The rule asserted:
verify names the checkpoint and the file at fault with the right code, the damaged one
is never picked by a reader that would notice (cheap checks notice sizes and manifests,
only verify=True notices a flipped byte), and create at 20 sets it aside, never deletes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from checkpoints import Checkpoint, CheckpointInvalid, CheckpointStore
from journal import Finding
from tests.checkpoints._util import assert_whole, expected, files_for

TABLE = "tables/traces.parquet"


@pytest.fixture
def damaged(store: Path, tmp_path: Path) -> tuple[CheckpointStore, Checkpoint]:
    """A store with whole checkpoints at 10 and 20; the test damages 20."""
    checkpoints = CheckpointStore(store)
    checkpoints.create(10, files_for(10, tmp_path / "src"), meta={"seq": 10})
    return checkpoints, checkpoints.create(20, files_for(20, tmp_path / "src"), meta={"seq": 20})


def _codes(findings: list[Finding]) -> list[tuple[str, str, str | None, str | None]]:
    return [(f.code, f.severity, f.checkpoint, f.file) for f in findings]


def _latest(checkpoints: CheckpointStore, *, verify: bool) -> int | None:
    latest = checkpoints.latest_valid(verify=verify)
    return None if latest is None else latest.seq


def test_a_flipped_byte_is_found_by_verify_and_skipped_by_a_verifying_reader(
    damaged: tuple[CheckpointStore, Checkpoint], seed: int
) -> None:
    checkpoints, checkpoint = damaged
    path = checkpoint.path / TABLE
    data = bytearray(path.read_bytes())
    at = random.Random(seed).randrange(len(data))
    data[at] ^= 1 << random.Random(seed).randrange(8)
    path.write_bytes(bytes(data))

    (finding,) = checkpoints.verify(20)
    assert _codes([finding]) == [("sha_mismatch", "error", checkpoint.name, TABLE)]
    assert f"{checkpoint.name}/{TABLE}" in finding.message and finding.hint
    assert finding.to_dict()["file"] == TABLE
    # the cheap check does not hash (it runs on every command); verify=True does
    assert _latest(checkpoints, verify=False) == 20
    assert _latest(checkpoints, verify=True) == 10
    with pytest.raises(CheckpointInvalid, match="does not match the sha256") as caught:
        checkpoint.read_bytes(TABLE)
    assert caught.value.fields == {"checkpoint": checkpoint.name, "file": TABLE}
    assert checkpoint.read_bytes(TABLE, verify=False) == bytes(data)
    assert checkpoint.read_bytes("counts.json") == expected(20)["counts.json"]  # others read


def test_a_truncated_file_is_found_even_by_the_cheap_check(
    damaged: tuple[CheckpointStore, Checkpoint],
) -> None:
    checkpoints, checkpoint = damaged
    os.truncate(checkpoint.path / TABLE, 1000)
    assert not checkpoint.valid
    assert _latest(checkpoints, verify=False) == _latest(checkpoints, verify=True) == 10
    (finding,) = checkpoints.verify(20)
    assert _codes([finding]) == [("size_mismatch", "error", checkpoint.name, TABLE)]
    assert "has 1000 bytes, the manifest says 300000" in finding.message
    with pytest.raises(CheckpointInvalid, match="has 1000 bytes"):
        checkpoint.read_bytes(TABLE)


@pytest.mark.parametrize("how", ["deleted", "replaced by a directory"])
def test_a_missing_file_is_found_by_the_cheap_check(
    damaged: tuple[CheckpointStore, Checkpoint], how: str
) -> None:
    checkpoints, checkpoint = damaged
    (checkpoint.path / TABLE).unlink()
    if how != "deleted":
        (checkpoint.path / TABLE).mkdir()
    assert _latest(checkpoints, verify=False) == 10
    findings = checkpoints.verify(20)
    assert _codes(findings)[0] == ("file_missing", "error", checkpoint.name, TABLE)
    with pytest.raises(CheckpointInvalid, match=f"{TABLE} is missing"):
        checkpoint.read_bytes(TABLE)


def test_a_deleted_manifest_makes_the_checkpoint_not_exist(
    damaged: tuple[CheckpointStore, Checkpoint],
) -> None:
    checkpoints, checkpoint = damaged
    (checkpoint.path / "manifest.json").unlink()
    assert [(c.seq, c.has_manifest, c.valid) for c in checkpoints.list()] == [
        (10, True, True),
        (20, False, False),
    ]
    assert _latest(checkpoints, verify=False) == _latest(checkpoints, verify=True) == 10
    (finding,) = checkpoints.scan()
    assert _codes([finding]) == [("manifest_missing", "error", checkpoint.name, "manifest.json")]
    assert "has no manifest.json" in finding.message


def _manifest(checkpoint: Checkpoint, **changes: object) -> bytes:
    manifest = dict(checkpoint.manifest or {})
    manifest.update(changes)
    return orjson.dumps(manifest)


GARBAGE: dict[str, Callable[[Checkpoint], bytes]] = {
    "empty": lambda c: b"",
    "torn": lambda c: (c.path / "manifest.json").read_bytes()[:-40],
    "not JSON": lambda c: b"\x00\xff garbage",
    "a list": lambda c: b"[]",
    "newer format": lambda c: _manifest(c, format=3),
    "another seq": lambda c: _manifest(c, seq=21),
    "seq as a string": lambda c: _manifest(c, seq="20"),
    "no meta": lambda c: _manifest(c, meta=None),
    "no files": lambda c: _manifest(c, files=[]),
    "a path outside": lambda c: _manifest(
        c, files={"../../journal/meta.json": {"sha256": "0" * 64, "bytes": 1}}
    ),
    "a short sha256": lambda c: _manifest(c, files={TABLE: {"sha256": "abc", "bytes": 300000}}),
    "negative bytes": lambda c: _manifest(c, files={TABLE: {"sha256": "0" * 64, "bytes": -1}}),
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_garbage_manifest_makes_the_checkpoint_not_exist(
    damaged: tuple[CheckpointStore, Checkpoint], garbage: Callable[[Checkpoint], bytes]
) -> None:
    checkpoints, checkpoint = damaged
    (checkpoint.path / "manifest.json").write_bytes(garbage(checkpoint))
    (listed,) = [c for c in checkpoints.list() if c.seq == 20]
    assert listed.has_manifest and listed.manifest is None and not listed.valid
    assert _latest(checkpoints, verify=False) == _latest(checkpoints, verify=True) == 10
    (finding,) = checkpoints.scan()
    assert _codes([finding]) == [("manifest_invalid", "error", checkpoint.name, "manifest.json")]
    assert finding.message.startswith(f"{checkpoint.name} manifest.json ")


def test_an_extra_file_is_a_warning_and_the_checkpoint_stays_valid(
    damaged: tuple[CheckpointStore, Checkpoint],
) -> None:
    checkpoints, checkpoint = damaged
    (checkpoint.path / "heads" / "stray.json").write_bytes(b"{}")
    (finding,) = checkpoints.verify(checkpoint)
    assert _codes([finding]) == [("extra_file", "warning", checkpoint.name, "heads/stray.json")]
    assert _latest(checkpoints, verify=True) == 20
    assert_whole(checkpoints.get(10))


def test_create_sets_an_invalid_checkpoint_aside_and_never_deletes_it(
    damaged: tuple[CheckpointStore, Checkpoint], tmp_path: Path
) -> None:
    checkpoints, checkpoint = damaged
    os.truncate(checkpoint.path / TABLE, 10)
    before = {p.relative_to(checkpoint.path): p.read_bytes() for p in _files(checkpoint.path)}

    made = checkpoints.create(20, files_for(20, tmp_path / "src"), meta={"seq": 20})
    assert_whole(made)
    (aside,) = checkpoints.directory.glob(".invalid-ckpt-00000000000000000020-*")
    assert {p.relative_to(aside): p.read_bytes() for p in _files(aside)} == before
    assert [c.seq for c in checkpoints.list()] == [10, 20] and checkpoints.strays() == []
    (finding,) = checkpoints.scan()
    assert _codes([finding]) == [("set_aside", "info", aside.name, None)]


def test_scan_names_what_else_lies_in_checkpoints(
    damaged: tuple[CheckpointStore, Checkpoint],
) -> None:
    checkpoints, _ = damaged
    (checkpoints.directory / "notes.txt").write_text("mine")
    (checkpoints.directory / "ckpt-12").mkdir()  # not 20 digits: not a checkpoint
    assert [c.seq for c in checkpoints.list()] == [10, 20]
    assert _codes(checkpoints.scan()) == [
        ("unknown_entry", "warning", "ckpt-12", None),
        ("unknown_entry", "warning", "notes.txt", None),
    ]


def _files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())
