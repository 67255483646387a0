"""`Checkpoint`: one ``ckpt-<seq>`` directory, its manifest, and the checks against it.

Two depths of check. The cheap one (`Checkpoint.valid`, used by `latest_valid` on every
command) parses the manifest and stats each listed file: it catches a missing manifest,
a missing or truncated file, never a flipped byte. The full one (`Checkpoint.verify`)
re-reads and hashes every file and also reports files the manifest does not list.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from checkpoints._errors import CheckpointDamaged, CheckpointNotFound, CheckpointUnreadable
from checkpoints._files import MANIFEST, Shared, check_relpath
from checkpoints._manifest import parse_manifest
from checkpoints._verified import Verified, now_ns
from journal import Finding, Severity, describe, file_sha256, unsafe_entries

SEQ_DIGITS = 20
NAME = re.compile(r"ckpt-(\d{20})")
FINDING_KEYS = ("code", "severity", "message", "checkpoint", "file", "hint")


def checkpoint_name(seq: int) -> str:
    """The directory name of the checkpoint at `seq`, e.g. ckpt-00000000000000000042."""
    return f"ckpt-{seq:0{SEQ_DIGITS}d}"


def is_checkpoint_name(name: str) -> bool:
    """True if `name` is a checkpoint directory's name (ckpt- and 20 digits)."""
    return NAME.fullmatch(name) is not None


def checkpoint_finding(
    code: str, severity: Severity, message: str, *, checkpoint: str, file: str | None, hint: str
) -> Finding:
    """A finding of a verify or a scan, with the keys checkpoint findings print."""
    return Finding(
        code, severity, message, checkpoint=checkpoint, file=file, hint=hint, keys=FINDING_KEYS
    )


class CheckpointFile(NamedTuple):
    """A file as the manifest lists it: its sha256 (hex) and its size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Checkpoint:
    """A ``ckpt-<seq>`` directory; `manifest` is None when it is missing or does not parse."""

    seq: int
    path: Path
    manifest: dict[str, Any] | None = field(repr=False, hash=False)
    has_manifest: bool
    manifest_error: str | None = None

    @classmethod
    def load(cls, path: Path, seq: int) -> Checkpoint:
        """Read the manifest of the checkpoint directory `path` (named for `seq`)."""
        try:
            data = _read_plain(path / MANIFEST)
        except FileNotFoundError:
            return cls(seq, path, None, False, "has no manifest.json")
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                what = describe(None, str(path / MANIFEST))
                return cls(seq, path, None, True, f"manifest.json is {what}, not a plain file")
            return cls(seq, path, None, True, f"manifest.json cannot be read ({exc.strerror})")
        try:
            return cls(seq, path, parse_manifest(data, seq), True)
        except ValueError as exc:
            return cls(seq, path, None, True, f"manifest.json {exc}")

    @property
    def name(self) -> str:
        """The directory name, e.g. ckpt-00000000000000000042."""
        return self.path.name

    @property
    def created_at(self) -> str | None:
        """When the manifest was written (UTC, ISO 8601), or None without a manifest."""
        return None if self.manifest is None else str(self.manifest["created_at"])

    @property
    def meta(self) -> dict[str, Any]:
        """The caller's meta from the manifest ({} without a manifest)."""
        return {} if self.manifest is None else dict(self.manifest["meta"])

    @cached_property
    def files(self) -> dict[str, CheckpointFile]:
        """Each listed file by relative path ({} without a manifest)."""
        listed = {} if self.manifest is None else self.manifest["files"]
        return {
            path: CheckpointFile(entry["sha256"], entry["bytes"]) for path, entry in listed.items()
        }

    @property
    def valid(self) -> bool:
        """The cheap check: the manifest parses and every listed file has its listed size."""
        return self.manifest is not None and not any(
            _check_file(self, relpath, entry, full=False) for relpath, entry in self.files.items()
        )

    def verify(self, *, cache: Verified | None = None) -> list[Finding]:
        """The full check: re-read and hash every file; report missing, damaged and extra ones.

        With `cache`, a file it knows hashed right and that was not written since is not
        hashed again (checkpoints/_verified.py): what building on a checkpoint needs.
        """
        return self.check(full=True, cache=cache)

    def check(self, *, full: bool, cache: Verified | None = None) -> list[Finding]:
        """Every problem found: with `full` each file is hashed, else only its size checked."""
        if self.manifest is None:
            return [_manifest_finding(self)]
        findings = [
            finding
            for relpath, entry in self.files.items()
            if (finding := _check_file(self, relpath, entry, full=full, cache=cache)) is not None
        ]
        return findings + _extra_files(self)

    def path_of(self, relpath: str) -> Path:
        """Where the listed file `relpath` lies; raise if it is not listed."""
        self._entry(relpath)
        return self.path / relpath

    def shared(self, relpath: str, *, inode: int | None = None) -> Shared:
        """The listed file `relpath`, to put in a new checkpoint as it is (hard-linked);
        with `inode`, only if it is still that inode (the one a reader has open)."""
        entry = self._entry(relpath)
        return Shared(self.path, relpath, entry.sha256, entry.size, inode)

    def read_bytes(self, relpath: str, *, verify: bool = True) -> bytes:
        """The bytes of the listed file `relpath`, checked against its size and sha256."""
        entry = self._entry(relpath)
        try:
            data = (self.path / relpath).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise self._damaged(relpath, "is missing") from exc
        if not verify:
            return data
        if len(data) != entry.size:
            raise self._damaged(relpath, f"has {len(data)} bytes, the manifest says {entry.size}")
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise self._damaged(relpath, "does not match the sha256 in its manifest")
        return data

    def _damaged(self, relpath: str, what: str) -> CheckpointDamaged:
        return CheckpointDamaged(
            f"{self.name}/{relpath} {what}",
            hint="the checkpoint is damaged: run 'lakehouse checkpoint verify' and create "
            "a new checkpoint",
            checkpoint=self.name,
            file=relpath,
        )

    def _entry(self, relpath: str) -> CheckpointFile:
        check_relpath(relpath)
        if self.manifest is None:
            raise CheckpointUnreadable(
                f"{self.name} {self.manifest_error}, so it holds no files",
                hint="use CheckpointStore.latest_valid() to pick a checkpoint that exists",
                checkpoint=self.name,
                file=relpath,
            )
        entry = self.files.get(relpath)
        if entry is None:
            raise CheckpointNotFound(
                f"{self.name} lists no file {relpath!r}",
                hint=f"its manifest lists {len(self.files)} files; see Checkpoint.files",
                checkpoint=self.name,
                file=relpath,
            )
        return entry


def _read_plain(path: Path) -> bytes:
    """The bytes of `path`, refusing a symlink (ELOOP) rather than following it.

    O_NONBLOCK, so a FIFO in its place cannot hang the reader (it reads as empty).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with open(fd, "rb") as handle:
        return handle.read()


def _manifest_finding(checkpoint: Checkpoint) -> Finding:
    return checkpoint_finding(
        "manifest_invalid" if checkpoint.has_manifest else "manifest_missing",
        "error",
        f"{checkpoint.name} {checkpoint.manifest_error}: it does not exist for readers",
        checkpoint=checkpoint.name,
        file=MANIFEST,
        hint="an interrupted or damaged checkpoint: create the checkpoint again "
        "(the old directory is set aside, never deleted)",
    )


def _check_file(
    checkpoint: Checkpoint,
    relpath: str,
    entry: CheckpointFile,
    *,
    full: bool,
    cache: Verified | None = None,
) -> Finding | None:
    """The first problem of one listed file; `full` also hashes it (unless `cache` knows
    it hashed right and it was not written since)."""
    path = checkpoint.path / relpath
    try:
        problem = _kind_problem(path, relpath, checkpoint.path)
        if problem is not None:
            return _bad(checkpoint, relpath, *problem)
        info = os.lstat(path)
        size = info.st_size
        if full and size == entry.size and not (cache and cache.hashed_right(info, entry.sha256)):
            hashed_at = now_ns()
            sha256, size = file_sha256(path)
            if cache is not None and size == entry.size and sha256 == entry.sha256:
                cache.remember(info, sha256, hashed_at)
            if size == entry.size and sha256 != entry.sha256:
                return _bad(
                    checkpoint,
                    relpath,
                    "sha_mismatch",
                    f"has sha256 {sha256[:12]}..., the manifest says {entry.sha256[:12]}...",
                )
    except (FileNotFoundError, NotADirectoryError):
        return _bad(checkpoint, relpath, "file_missing", "is missing")
    except OSError as exc:
        return _bad(checkpoint, relpath, "file_unreadable", f"cannot be read ({exc.strerror})")
    if size != entry.size:
        return _bad(
            checkpoint,
            relpath,
            "size_mismatch",
            f"has {size} bytes, the manifest says {entry.size}",
        )
    return None


def _kind_problem(path: Path, relpath: str, base: Path) -> tuple[str, str] | None:
    """(code, what) if `path` is not a plain file below real directories, else None.

    Every directory on the way is checked too, or a symlinked ``heads/`` could serve
    another store's files under this manifest (tests/journal/test_symlinks.py).
    """
    for parent in _parents(relpath):
        if not stat.S_ISDIR(os.lstat(base / parent).st_mode):
            return (
                "unsafe_file",
                f"lies under {parent}, which is {describe(None, str(base / parent))}",
            )
    mode = os.lstat(path).st_mode
    if stat.S_ISDIR(mode):
        return "file_missing", "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "unsafe_file", f"is {describe(None, str(path))}, not a plain file"
    return None


def _parents(relpath: str) -> list[str]:
    """The directories a relative path lies under, outermost first ("a/b/c" -> a, a/b)."""
    parts = relpath.split("/")[:-1]
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


def _bad(checkpoint: Checkpoint, relpath: str, code: str, what: str) -> Finding:
    return checkpoint_finding(
        code,
        "error",
        f"{checkpoint.name}/{relpath} {what}",
        checkpoint=checkpoint.name,
        file=relpath,
        hint="the checkpoint is damaged and is skipped: create a new one; "
        "the journal alone can rebuild its state",
    )


def _extra_files(checkpoint: Checkpoint) -> list[Finding]:
    """Files in the directory that the manifest does not list (a warning: never read).

    A symlink or special file is an error instead: nothing a checkpoint writes is one.
    """
    listed = checkpoint.files
    found = [
        checkpoint_finding(
            "unsafe_file",
            "error",
            f"{relpath} is {what}: a checkpoint holds only plain files and directories",
            checkpoint=checkpoint.name,
            file=relpath.removeprefix(f"{checkpoint.name}/"),
            hint="the checkpoint is damaged and is skipped: create a new one",
        )
        for relpath, what in unsafe_entries(checkpoint.path.parent, checkpoint.name)
        if relpath.removeprefix(f"{checkpoint.name}/") not in listed  # _check_file's
    ]
    for directory, dirnames, filenames in os.walk(checkpoint.path):
        dirnames.sort()
        base = Path(directory).relative_to(checkpoint.path)
        for filename in sorted(filenames):
            relpath = (base / filename).as_posix()
            if not stat.S_ISREG(os.lstat(os.path.join(directory, filename)).st_mode):
                continue  # a symlink or special file: reported above
            if relpath != MANIFEST and relpath not in listed:
                found.append(
                    checkpoint_finding(
                        "extra_file",
                        "warning",
                        f"{checkpoint.name}/{relpath} is not listed in the manifest",
                        checkpoint=checkpoint.name,
                        file=relpath,
                        hint="it is never read; move it out of the checkpoint",
                    )
                )
    return found
