"""Creating a checkpoint: every file written and fsynced in a temp dir, manifest last, rename.

The protocol, each numbered point a `_step` that the kill tests stop a child at
(tests/checkpoints/test_kill.py)::

    1. mkdir checkpoints/.tmp-ckpt-<seq>-<random>/           "tmp_created"
    2. write + fsync each file (or hard-link a shared one)     "file_written" (per file)
    3. write + fsync manifest.json                             "manifest_written"
       fsync every directory in the temp dir                   "tmp_synced"
    4. rename an invalid ckpt-<seq> aside (never delete it)    "moved_aside"
       rename the temp dir to ckpt-<seq>                       "renamed"
    5. fsync checkpoints/                                      "published"

A kill before 4 leaves a ``.tmp-ckpt-*`` stray that readers ignore and a scan reports;
from the rename on, ``ckpt-<seq>`` is whole. So a reader sees the old checkpoint or the
new one, never a mix. A valid ``ckpt-<seq>`` that is already there is kept as it is.
Any OSError becomes CheckpointWriteFailed here, the one boundary of this adapter; the
temp dir of a create that raised is removed (only a kill leaves one behind).
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from checkpoints._checkpoint import Checkpoint, checkpoint_name
from checkpoints._errors import CheckpointRefused, CheckpointWriteFailed
from checkpoints._files import (
    MANIFEST,
    Shared,
    check_layout,
    check_relpath,
    copy_new,
    share,
    sync_and_hash,
    write_new,
)
from checkpoints._manifest import check_meta, dump_manifest
from journal import check_dir, fsync_dir

Source = bytes | Path | Shared | Callable[[Path], None]
STEPS = (
    "tmp_created",
    "file_written",
    "manifest_written",
    "tmp_synced",
    "moved_aside",
    "renamed",
    "published",
)
_RACES = 3  # rename attempts when other writers keep publishing the same seq


def _step(name: str) -> None:
    """A named point of the create protocol: a no-op that tests patch to kill the writer."""


def check_input(seq: object, files: Mapping[str, Source], meta: object) -> dict[str, Any]:
    """Refuse a bad seq, path, source or meta before anything is written; return meta."""
    if type(seq) is not int or not 0 <= seq < 10**20:
        raise CheckpointRefused(
            f"checkpoint seq {seq!r} must be an int from 0 to 10**20 - 1",
            hint="pass the journal seq the state reflects",
            field="seq",
        )
    for relpath, source in files.items():
        check_relpath(relpath)
        if isinstance(source, Path) and not source.is_file():
            raise CheckpointRefused(
                f"the source {source} of checkpoint file {relpath!r} is not a file",
                hint="pass bytes, an existing file's Path, or a callback that writes the file",
                file=relpath,
                source=str(source),
            )
        if isinstance(source, Shared):
            check_relpath(source.relpath)
        elif not isinstance(source, bytes | Path) and not callable(source):
            raise CheckpointRefused(
                f"checkpoint file {relpath!r} has a {type(source).__name__} as its content",
                hint="pass bytes, an existing file's Path, a file another checkpoint shares, "
                "or a callback that writes the file",
                file=relpath,
            )
    check_layout(files)
    return check_meta({} if meta is None else meta)


def write_checkpoint(
    directory: Path,
    seq: int,
    files: Mapping[str, Source],
    meta: dict[str, Any],
    *,
    replace: bool = False,
) -> Path:
    """Write checkpoint `seq` under `directory` by the protocol above; return its path.

    With `replace`, a valid checkpoint already at `seq` is replaced: renamed aside once the
    new one is whole, then deleted (it is derived data, and the new one covers the same seq).
    """
    name = checkpoint_name(seq)
    try:
        final = directory / name
        if not replace and _verifies(final, seq):  # already there: keep it, write nothing
            _sync_published(directory)
            return final
        _make_dir(directory)
        tmp = directory / f".tmp-{name}-{secrets.token_hex(4)}"
        os.mkdir(tmp)
        try:
            _step("tmp_created")
            _fill(tmp, seq, files, meta)
            if replace and os.path.isdir(final) and _exchange(tmp, final):
                # one atomic swap: ckpt-<seq> is the old checkpoint or the new one at every
                # instant, and a kill leaves the old one as a .tmp-* stray
                # (tests/projections/test_processes.py::test_a_rebuild_killed_at_a_step)
                _step("renamed")
                fsync_dir(directory)
                _step("published")
                return final
            if replace and os.path.lexists(final):  # no atomic swap here: set the old aside
                old = directory / f".replaced-{name}-{secrets.token_hex(4)}"
                os.rename(final, old)
                _step("moved_aside")
                published = _publish(tmp, final, seq)
                shutil.rmtree(old, ignore_errors=True)
                return published
            return _publish(tmp, final, seq)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # a no-op once renamed
    except CheckpointWriteFailed:
        raise
    except OSError as exc:
        raise CheckpointWriteFailed(
            f"could not write checkpoint {name}: {exc.strerror or exc}",
            hint="free space or fix permissions under checkpoints/, then create it again; "
            "a half-written checkpoint is ignored by readers",
            checkpoint=name,
            path=exc.filename,
            errno=exc.errno,
        ) from exc


def _make_dir(directory: Path) -> None:
    """Check that `directory` is a real directory (made if missing), never a symlink.

    Making it fsyncs its parent, or a crash can lose checkpoints/ with the first checkpoint
    in it (tests/checkpoints/test_durability.py::test_fsync_order); a symlink in its place
    is refused, or the checkpoint would be written wherever it points
    (tests/journal/test_symlinks.py).
    """
    check_dir(directory.parent, directory.name, create=True)


def _fill(tmp: Path, seq: int, files: Mapping[str, Source], meta: dict[str, Any]) -> None:
    """Write every file and then the manifest into `tmp`, all durable before any rename."""
    written: dict[str, tuple[str, int]] = {}
    made: set[Path] = {tmp}
    for relpath, source in files.items():
        path = tmp / relpath
        for parent in reversed(path.parents):
            if parent.is_relative_to(tmp) and parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
        # each file is fsynced before the manifest exists, or a crash after the rename can
        # publish a manifest over empty or short files (test_durability.py::test_fsync_order)
        written[relpath] = _write_one(path, relpath, source)
        _step("file_written")
    write_new(tmp / MANIFEST, dump_manifest(seq, written, meta))
    _step("manifest_written")
    # fsync every directory the files were created in before the rename, or a crash can
    # keep the checkpoint's name but lose the names inside it (test_fsync_order)
    for directory in sorted(made, key=lambda path: len(path.parts), reverse=True):
        fsync_dir(directory)
    _step("tmp_synced")


def _write_one(path: Path, relpath: str, source: Source) -> tuple[str, int]:
    if isinstance(source, bytes):
        return write_new(path, source)
    if isinstance(source, Path):
        return copy_new(source, path)
    if isinstance(source, Shared):
        return share(source, path)
    source(path)
    if not path.is_file() or path.is_symlink():
        raise CheckpointRefused(
            f"the callback for checkpoint file {relpath!r} left no regular file at {path}",
            hint="the callback must write the file at the path it is given",
            file=relpath,
        )
    return sync_and_hash(path)


def set_aside_path(checkpoint: Path) -> Path:
    """A new name, beside it, for an invalid checkpoint set aside (never read again)."""
    return checkpoint.parent / f".invalid-{checkpoint.name}-{secrets.token_hex(4)}"


def _publish(tmp: Path, final: Path, seq: int) -> Path:
    """Rename `tmp` to `final`, setting an invalid `final` aside; keep a valid one."""
    directory = final.parent
    for _ in range(_RACES):
        if os.path.lexists(final):
            if _verifies(final, seq):  # another writer published it first
                _sync_published(directory)
                return final
            os.rename(final, set_aside_path(final))
            _step("moved_aside")
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                continue  # someone made `final` between the check and the rename
            raise
        _step("renamed")
        # fsync checkpoints/ before returning, or a crash can undo the rename of a
        # checkpoint the caller was told exists (test_durability.py::test_fsync_order)
        fsync_dir(directory)
        _step("published")
        return final
    raise CheckpointWriteFailed(
        f"{final.name} kept reappearing invalid while it was being published",
        hint="another process is writing checkpoints at the same seq: stop it and retry",
        checkpoint=final.name,
    )


def _sync_published(directory: Path) -> None:
    """fsync checkpoints/ before returning a checkpoint that some other create published.

    That create may have been killed between its rename and its fsync: the name would
    then live only in the page cache (test_durability.py::test_create_syncs_a_found_one).
    """
    fsync_dir(directory)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2); False where unsupported."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
        return False  # the filesystem or kernel cannot exchange: fall back
    raise OSError(error, os.strerror(error), str(b))


def _verifies(path: Path, seq: int) -> bool:
    """True if `path` is a checkpoint whose every file hashes right (a full check)."""
    if not path.is_dir():
        return False
    checkpoint = Checkpoint.load(path, seq)
    return checkpoint.valid and not any(f.severity == "error" for f in checkpoint.verify())
