"""The quick doctor: lock holder, network mounts, meta.json, projections; no lock, no writes."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import journal._lock
from lakehouse import Store
from lakehouse.doctor import diagnose, verify
from lakehouse.doctor._system import mount_of
from tests.doctor._util import Built, doctor, rewrite_listed
from tests.faults.conftest import APPENDER

BIN = Path(sys.executable).parent


@pytest.fixture
def holder(built: Built) -> Iterator[subprocess.Popen[bytes]]:
    """A writer that holds the store lock in the middle of an append until it is killed."""
    command = [sys.executable, str(APPENDER), str(built.root), "--stop-at", "0:data:before"]
    with subprocess.Popen(
        [*command, "--then", "hold"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as child:
        assert child.stdout is not None
        while not (line := child.stdout.readline().decode()).startswith("at "):
            assert line, "the holder died before it took the lock"
        try:
            yield child
        finally:
            child.kill()


def test_the_lock_holder_is_shown_and_the_doctor_does_not_wait(
    built: Built, holder: subprocess.Popen[bytes]
) -> None:
    command = [str(BIN / "lakehouse"), "--store", str(built.root), "doctor", "--json"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    held = [f for f in report["findings"] if f["code"] == "lock_held"]
    assert len(held) == 1 and held[0]["severity"] == "info"
    assert f"writer {holder.pid}-" in held[0]["message"]
    assert f"(pid {holder.pid})" in held[0]["message"]
    holder.kill()
    holder.wait(timeout=30)
    # the stamp stays in the LOCK file, but the kernel dropped the lock with its holder
    assert "lock_held" not in diagnose(built.root).codes()


def test_neither_check_takes_the_lock(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the doctor touched the store lock")

    monkeypatch.setattr(journal._lock, "_flock", refuse)
    monkeypatch.setattr(journal._lock.portalocker, "lock", refuse)
    before = _listing(built.root)
    assert diagnose(built.root).healthy
    assert verify(built.root).healthy
    assert _listing(built.root) == before, "a check wrote into the store"


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("fstype", "network"),
    [
        ("nfs4", True),
        ("cifs", True),
        ("fuse.sshfs", True),
        ("9p", True),
        ("ext4", False),
        ("overlay", False),
        ("fuseblk", False),
    ],
)
def test_a_network_filesystem_is_warned_about(
    built: Built, tmp_path: Path, fstype: str, network: bool
) -> None:
    point = str(built.root.parent.resolve())
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw,relatime 0 0\n"
        f"server:/export {point} {fstype} rw,relatime 0 0\n"
        f"/dev/vdb {point}/elsewhere ext4 rw 0 0\n"  # a longer mount point, not a prefix
    )
    report = diagnose(built.root, mounts=mounts)
    found = [f for f in report.findings if f.code == "network_filesystem"]
    assert [f.severity for f in found] == (["warning"] if network else [])
    assert report.healthy
    if network:
        assert f"a {fstype} filesystem (server:/export mounted at {point})" in found[0].message


def test_the_mount_is_the_longest_prefix_and_names_are_unescaped(tmp_path: Path) -> None:
    store = tmp_path / "my store" / "s"
    store.mkdir(parents=True)
    escaped = str(tmp_path / "my store").replace(" ", "\\040")
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw 0 0\n"
        f"a:/x {tmp_path}/my ext4 rw 0 0\n"  # a prefix of the string, not of the path
        f"//srv/share {escaped} cifs rw 0 0\n"
        f"/dev/vdc {escaped} ext4 rw 0 0\n"  # mounted on top of the share: it wins
    )
    mount = mount_of(store, mounts)
    assert mount is not None and (mount.point, mount.fstype) == (str(tmp_path / "my store"), "ext4")
    mounts.write_text(mounts.read_text().rsplit("/dev/vdc", 1)[0])
    mount = mount_of(store, mounts)
    assert mount is not None and (mount.fstype, mount.network) == ("cifs", True)
    assert mount_of(store, tmp_path / "no-such-table") is None


def test_meta_missing_lagging_and_ahead(built: Built) -> None:
    meta = built.root / "journal" / "meta.json"
    original = orjson.loads(meta.read_bytes())
    assert original["next_seq"] == built.head + 1
    assert diagnose(built.root).codes("warning") == []

    meta.unlink()
    report = diagnose(built.root)
    assert report.codes("warning") == ["meta_missing"] and report.healthy

    meta.write_bytes(orjson.dumps({**original, "next_seq": built.head - 2}))
    assert "meta_lagging" in diagnose(built.root).codes("info")

    meta.write_bytes(orjson.dumps({**original, "next_seq": built.head + 5}))
    report = diagnose(built.root)
    ahead = [f for f in report.findings if f.code == "meta_ahead"]
    assert len(ahead) == 1 and ahead[0].seq == built.head + 1
    assert f"records {built.head + 1}..{built.head + 4}" in ahead[0].message

    meta.write_bytes(orjson.dumps({**original, "store_id": "someone-else"}))
    assert diagnose(built.root).codes("warning") == ["meta_store_id_mismatch"]


def test_projections_watermark_lag_and_stale(built: Built) -> None:
    code, report, _ = doctor(built.root)
    assert code == 0
    rows = {row["projection"]: row for row in report["projections"]}
    assert rows["traces"]["watermark"] == built.checkpoint_seq
    assert rows["traces"]["lag"] == built.head - built.checkpoint_seq
    assert rows["traces"]["state"] == "current"
    assert {row["dead_letters"] for row in rows.values()} == {0}
    watermark = [f for f in report["findings"] if f["code"] == "projection_watermark"]
    assert [f["seq"] for f in watermark] == [built.checkpoint_seq]
    assert f"the {built.head - built.checkpoint_seq:,} records after it" in watermark[0]["message"]
    # a checkpoint made by other projection code: its fingerprint differs, it is stale
    manifest = built.root / "checkpoints" / built.checkpoint / "manifest.json"
    body = orjson.loads(manifest.read_bytes())
    body["meta"]["projections"]["traces"]["fingerprint"] = "0123456789abcdef"
    manifest.write_bytes(orjson.dumps(body))
    report = diagnose(built.root)
    stale = [f.message for f in report.findings if f.code == "projection_stale"]
    assert len(stale) == 1 and stale[0].startswith("projection traces's code")
    rows = {row["projection"]: row for row in report.projections}
    assert (rows["traces"]["state"], rows["traces"]["watermark"]) == ("stale", 0)
    assert report.healthy


def test_strays_of_every_kind(built: Built) -> None:
    root = built.root
    (root / "journal" / "meta.json.tmp-123-abcd").write_bytes(b"{")
    (root / "checkpoints" / f".pruned-{built.checkpoint}-00ff").mkdir()
    (root / "checkpoints" / f".invalid-{built.checkpoint}-00ff").mkdir()
    (root / "projections" / "cache" / "rebuild" / "checkpoints").mkdir(parents=True)
    (root / "projections" / "cache" / ".status.json.tmp-99").write_bytes(b"")
    (root / "journal" / "segments" / "notes.txt").write_text("hello")
    report = diagnose(root)
    found = sorted((f.code, f.severity, f.path) for f in report.findings if f.path)
    assert found == [
        ("rebuild_leftover", "warning", "projections/cache/rebuild"),
        ("set_aside_checkpoint", "info", f"checkpoints/.invalid-{built.checkpoint}-00ff"),
        ("stray_file", "warning", "journal/segments/notes.txt"),
        ("stray_temp_dir", "warning", f"checkpoints/.pruned-{built.checkpoint}-00ff"),
        ("stray_temp_file", "warning", "journal/meta.json.tmp-123-abcd"),
        ("stray_temp_file", "warning", "projections/cache/.status.json.tmp-99"),
    ]
    assert report.healthy and report.counts["stray_temp"] == 4


def test_a_checkpoint_without_per_shard_checksums_is_named(built: Built) -> None:
    ckpt = built.root / "checkpoints" / built.checkpoint
    for index in sorted((ckpt / "heads").glob("*.idx")):  # as checkpoints were written before
        offsets = [offset for offset, _ in struct.iter_unpack("<QI", index.read_bytes())]
        rewrite_listed(ckpt, f"heads/{index.name}", struct.pack(f"<{len(offsets)}Q", *offsets))
    manifest = orjson.loads((ckpt / "manifest.json").read_bytes())
    del manifest["meta"]["head_checks"]
    (ckpt / "manifest.json").write_bytes(orjson.dumps(manifest))
    report = diagnose(built.root)
    named = [f.checkpoint for f in report.findings if f.code == "heads_without_checksums"]
    assert report.healthy and named == [built.checkpoint]
    with Store.open(built.root, checkpoint_every=0) as lake:  # still read, and trusted
        assert lake.traces.update(built.uids[5], text="x", if_rev=1).rev == 2
