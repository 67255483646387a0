"""The cache of files known to hash right: no hash twice for a file no one wrote, and any
write (a flipped byte) hashed again and caught (checkpoints/_verified.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checkpoints import Checkpoint, CheckpointStore, _checkpoint, _verified

BIG = os.urandom(100_000)


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once (else only those written 2 s before a hash)."""
    monkeypatch.setattr(_verified, "SETTLE_NS", 0)


def _hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []
    real = _checkpoint.file_sha256

    def counting(path: object) -> tuple[str, int]:
        hashed.append(str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(_checkpoint, "file_sha256", counting)
    return hashed


def _made(store: Path) -> Checkpoint:
    return CheckpointStore(store).create(3, {"tables/t.parquet": BIG, "a.json": b"{}"}, meta={})


def _verified_once(store: Path) -> Checkpoint:
    """A checkpoint whose files were verified with the cache, and the cache saved."""
    made = _made(store)
    cache = CheckpointStore(store).verified()
    assert made.verify(cache=cache) == []
    cache.save()
    return made


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def test_a_file_hashed_right_is_not_hashed_again(
    store: Path, monkeypatch: pytest.MonkeyPatch, settled: None
) -> None:
    made = _made(store)
    hashed = _hashes(monkeypatch)
    cache = CheckpointStore(store).verified()
    assert made.verify(cache=cache) == [] and len(hashed) == 2
    cache.save()
    assert (store / "checkpoints" / ".verified").is_file()
    # a new process: loaded from disk, nothing hashed
    again = CheckpointStore(store).verified()
    assert made.verify(cache=again) == [] and len(hashed) == 2
    # a plain verify hashes every file, always
    assert made.verify() == [] and len(hashed) == 4


def test_a_byte_written_since_is_hashed_again_and_caught(
    store: Path, monkeypatch: pytest.MonkeyPatch, settled: None
) -> None:
    made = _verified_once(store)
    _flip(made.path_of("tables/t.parquet"))  # same size: the cheap check passes
    assert made.valid
    found = made.verify(cache=CheckpointStore(store).verified())
    assert [(f.code, f.file) for f in found] == [("sha_mismatch", "tables/t.parquet")]


def test_a_file_written_just_before_its_hash_is_not_remembered(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _verified_once(store)  # written now: within SETTLE_NS of the hash
    hashed = _hashes(monkeypatch)
    assert made.verify(cache=CheckpointStore(store).verified()) == [] and len(hashed) == 2


def test_a_damaged_or_planted_cache_is_ignored(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settled: None
) -> None:
    made = _made(store)
    path = store / "checkpoints" / ".verified"
    path.write_bytes(b"not json")
    assert made.verify(cache=CheckpointStore(store).verified()) == []
    # a symlink is neither read nor written through
    os.unlink(path)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(b"{}")
    os.symlink(elsewhere, path)
    cache = CheckpointStore(store).verified()
    assert cache.known == {}
    assert made.verify(cache=cache) == []
    cache.save()
    assert elsewhere.read_bytes() == b"{}" and not path.is_symlink()
    # and the scan of checkpoints/ does not report the cache as an unknown entry
    assert CheckpointStore(store).scan() == []
    # a FIFO in its place is not waited on
    os.unlink(path)
    os.mkfifo(path)
    assert CheckpointStore(store).verified().known == {}


def test_the_doctor_says_nothing_of_the_cache(store: Path, settled: None) -> None:
    from lakehouse import Store
    from lakehouse.doctor import diagnose

    with Store.open(store, checkpoint_every=0) as lake:
        lake.traces.add(text="one")
        made = lake.checkpoint()
        cache = lake.checkpoints.verified()
        assert made.verify(cache=cache) == []
        cache.save()
        assert (store / "checkpoints" / ".verified").is_file()
    report = diagnose(store)
    assert [f.code for f in report.findings if "verified" in (f.path or "")] == []
    assert "unknown_entry" not in [f.code for f in report.findings]


def test_a_file_shared_with_a_new_checkpoint_stays_known(
    store: Path, monkeypatch: pytest.MonkeyPatch, settled: None
) -> None:
    made = _verified_once(store)
    newer = CheckpointStore(store).create(
        4, {"tables/t.parquet": made.shared("tables/t.parquet")}, meta={}
    )  # a hard link: the file's ctime moves, its mtime does not
    hashed = _hashes(monkeypatch)
    again = CheckpointStore(store).verified()
    assert made.verify(cache=again) == [] and newer.verify(cache=again) == []
    assert hashed == []
