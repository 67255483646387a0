"""`CheckpointStore`: the ``checkpoints/`` directory of one store.

::

    <root>/checkpoints/
      ckpt-<seq, 20 digits>/         a checkpoint (it exists only if its manifest checks out)
      .tmp-ckpt-<seq>-<random>/      a create in progress, or one a kill interrupted
      .invalid-ckpt-<seq>-<random>/  an invalid checkpoint set aside by a later create
      .pruned-ckpt-<seq>-<random>/   a prune in progress, or one a kill interrupted

Readers look at ``ckpt-*`` only. Leftover temp and pruned directories are strays: `scan`
reports them, nothing reads them. Set-aside checkpoints are kept for a human to look at.
"""

from __future__ import annotations

import builtins  # `list` is a method of CheckpointStore, so annotations say builtins.list
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from checkpoints._checkpoint import NAME, Checkpoint, checkpoint_finding, checkpoint_name
from checkpoints._errors import CheckpointNotFound, CheckpointRefused
from checkpoints._verified import Verified
from checkpoints._write import Source, check_input, set_aside_path, write_checkpoint
from journal import Finding, StoreNotFound, check_dir, fsync_dir

EntryKind = Literal["checkpoint", "stray", "set_aside", "cache", "unknown"]
_STRAY = re.compile(r"\.(tmp|pruned|replaced)-ckpt-\d{20}-[0-9a-f]+")
_SET_ASIDE = re.compile(r"\.invalid-ckpt-\d{20}-[0-9a-f]+")
_CACHE = re.compile(r"\.verified(\.tmp-(\d+-)?[0-9a-f]+)?")  # checkpoints/_verified.py


class CheckpointStore:
    """The checkpoints of the store at `root`: create, list, pick, verify, scan and prune."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.directory = self.root / "checkpoints"

    def create(
        self,
        seq: int,
        files: Mapping[str, Source],
        *,
        meta: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> Checkpoint:
        """Write a checkpoint of `files` at `seq`, crash-safe; keep one already valid there.

        Each file is given as its bytes, a Path to copy, a file of another checkpoint to
        share (`Checkpoint.shared`: hard-linked, no bytes written), or a callback that
        writes the file at the path it is passed. `meta` (JSON) is stored in the manifest
        as given. With `replace`, a valid checkpoint already at `seq` is replaced rather
        than kept.
        """
        checked = check_input(seq, files, meta)
        if not self.root.is_dir():
            raise StoreNotFound(
                f"no store at {self.root}",
                hint="create one with 'lakehouse init' or pass --store PATH",
                store=str(self.root),
            )
        path = write_checkpoint(self.directory, seq, files, checked, replace=replace)
        return Checkpoint.load(path, seq)

    def get(self, seq: int) -> Checkpoint:
        """The checkpoint directory at `seq`, valid or not; raise if there is none."""
        path = self.directory / checkpoint_name(seq)
        if not path.is_dir():
            raise CheckpointNotFound(
                f"no checkpoint {path.name} in {self.directory}",
                hint="list the checkpoints with 'lakehouse checkpoint list'",
                checkpoint=path.name,
                seq=seq,
            )
        return Checkpoint.load(path, seq)

    def list(self) -> builtins.list[Checkpoint]:
        """Every ``ckpt-*`` directory, oldest first, valid or not."""
        return [Checkpoint.load(path, seq) for seq, path in self._checkpoints()]

    def latest_valid(
        self, *, at_most: int | None = None, verify: bool = False
    ) -> Checkpoint | None:
        """The newest checkpoint (at seq <= `at_most`) that passes the cheap or the full check.

        The cheap check parses the manifest and stats every listed file (no hashing: it
        runs on every command); verify=True also hashes every file of each candidate.
        """
        for seq, path in reversed(self._checkpoints()):
            if at_most is not None and seq > at_most:
                continue
            checkpoint = Checkpoint.load(path, seq)
            if checkpoint.valid and not (verify and _has_errors(checkpoint.verify())):
                return checkpoint
        return None

    def verify(self, checkpoint: int | Checkpoint) -> builtins.list[Finding]:
        """Re-read every file of a checkpoint (given by seq or itself) against its manifest."""
        if not isinstance(checkpoint, Checkpoint):
            checkpoint = self.get(checkpoint)
        return Checkpoint.load(checkpoint.path, checkpoint.seq).verify()

    def verified(self) -> Verified:
        """The cache of files known to hash right, for `Checkpoint.verify(cache=...)`."""
        return Verified(self.directory)

    def seqs(self) -> builtins.list[int]:
        """The seq of every entry named as a checkpoint, oldest first (by name alone)."""
        try:
            names = os.listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(match.group(1)) for name in names if (match := NAME.fullmatch(name)))

    def newest_seq(self) -> int:
        """The seq of the newest checkpoint directory, 0 if none (by name alone: one
        listdir, cheap enough to poll on every command)."""
        return max(self.seqs(), default=0)

    def strays(self) -> builtins.list[Path]:
        """Leftover temp and pruned directories of interrupted creates and prunes."""
        return [path for path, kind in self.others() if kind == "stray"]

    def others(self) -> builtins.list[tuple[Path, EntryKind]]:
        """Every entry of checkpoints/ that is neither a checkpoint nor the cache of verified
        files, with what its name says it is (`classify_entry`), sorted."""
        found: builtins.list[tuple[Path, EntryKind]] = []
        for path in self._entries():
            kind = classify_entry(path.name)
            if not ((kind == "checkpoint" and path.is_dir()) or kind == "cache"):
                found.append((path, kind))
        return found

    def scan(self) -> builtins.list[Finding]:
        """Verify every checkpoint and report strays and anything else in checkpoints/."""
        findings = [finding for item in self.list() for finding in item.verify()]
        return findings + [_entry_finding(path) for path, _ in self.others()]

    def set_aside(self, name: str) -> Path:
        """Rename checkpoint `name` (invalid: readers skip it) to a set-aside name, durably;
        return where it went. It is kept for a look at what damaged it."""
        check_dir(self.root, "checkpoints")  # the rename follows no symlinked directory
        target = set_aside_path(self.directory / name)
        os.rename(self.directory / name, target)
        # fsync checkpoints/, or a crash can bring the checkpoint back under its name
        fsync_dir(self.directory)
        return target

    def prune(self, keep: int) -> builtins.list[Checkpoint]:
        """Delete the valid checkpoints older than the newest `keep` valid ones; return them.

        Invalid checkpoints are left for `scan` to report. A checkpoint is derived data,
        so deleting one loses nothing the journal cannot rebuild; the journal is untouched.
        """
        if type(keep) is not int or keep < 1:
            raise CheckpointRefused(
                f"prune must keep at least 1 checkpoint, not {keep!r}",
                hint="the newest checkpoint covers the archived segments: keep it",
                field="keep",
            )
        valid = [checkpoint for checkpoint in self.list() if checkpoint.valid]
        pruned = valid[:-keep]
        if pruned:
            check_dir(self.root, "checkpoints")  # renames below follow no symlinked directory
        for checkpoint in pruned:
            aside = self.directory / f".pruned-{checkpoint.name}-{secrets.token_hex(4)}"
            os.rename(checkpoint.path, aside)
            # fsync before deleting, or a crash can bring back a half-deleted ckpt-<seq>
            # under its own name (it would only be an invalid checkpoint, never read)
            fsync_dir(self.directory)
            shutil.rmtree(aside)
        return pruned

    def _entries(self) -> builtins.list[Path]:
        """The entries of checkpoints/; none if it is a symlink (doctor reports it)."""
        if os.path.islink(self.directory):
            return []
        try:
            return sorted(Path(entry.path) for entry in os.scandir(self.directory))
        except FileNotFoundError:
            return []

    def _checkpoints(self) -> builtins.list[tuple[int, Path]]:
        """(seq, path) of every ``ckpt-<seq>`` directory (not a symlink to one), oldest first."""
        found = []
        for path in self._entries():
            match = NAME.fullmatch(path.name)
            if match and path.is_dir() and not path.is_symlink():
                found.append((int(match.group(1)), path))
        return found


def classify_entry(name: str) -> EntryKind:
    """What an entry of checkpoints/ is by its name: a checkpoint, a stray (the temp, pruned
    or replaced directory of an interrupted create or prune), a set-aside invalid
    checkpoint, the cache of verified files (checkpoints/_verified.py), or something
    unknown."""
    if NAME.fullmatch(name):
        return "checkpoint"
    if _STRAY.fullmatch(name):
        return "stray"
    if _CACHE.fullmatch(name):
        return "cache"
    return "set_aside" if _SET_ASIDE.fullmatch(name) else "unknown"


def _has_errors(findings: list[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def _entry_finding(path: Path) -> Finding:
    """What a scan says about an entry of checkpoints/ that is not a checkpoint."""
    name = f"checkpoints/{path.name}"
    kind = classify_entry(path.name)
    if kind == "stray":
        return checkpoint_finding(
            "stray_temp_dir",
            "warning",
            f"{name} is left from a create or prune that did not finish",
            checkpoint=path.name,
            file=None,
            hint="no reader uses it; delete it when no checkpoint is being written",
        )
    if kind == "set_aside":
        return checkpoint_finding(
            "set_aside",
            "info",
            f"{name} is an invalid checkpoint that a later create set aside",
            checkpoint=path.name,
            file=None,
            hint="look at it if you want to know what damaged it, then delete it",
        )
    return checkpoint_finding(
        "unknown_entry",
        "warning",
        f"{name} is not a checkpoint",
        checkpoint=path.name,
        file=None,
        hint="move it out of checkpoints/",
    )
