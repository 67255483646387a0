"""Store files opened without following symlinks: nothing a store holds can redirect a write.

A store is written only through paths below its root that are reached one component at a
time with ``O_NOFOLLOW`` (openat on the directory found so far): every directory on the way
must be a real directory, and the file a regular file (a new one is created with
``O_CREAT | O_EXCL``, which refuses any existing name, a dangling symlink included). A file
that is modified in place (``LOCK``, the active segment) must also have a single link, or a
write would change another name for it too. The root itself is the user's choice and may
be a symlink. Anything else found on the way is damage: `UnsafeFile`, exit 7, naming the
path (tests/journal/test_symlinks.py).

Libraries that write by path (pyarrow, hnswlib) only ever write into a temp directory the
writer has just made below a checked chain; a process racing the writer, with write access
to the store, could swap a directory between two of their calls. Everything the store
writes itself goes through the descriptors this module opens.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path, PurePosixPath

from journal._errors import JournalDamaged

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FILE = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_WRITES = os.O_WRONLY | os.O_RDWR
_REFUSED = (errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.ENXIO, errno.EMLINK)


class UnsafeFile(JournalDamaged):
    """A path in the store is a symlink, a special file or a second link: never written."""

    code = "unsafe_file"


def relpath_of(root: Path, path: Path | str) -> str:
    """`path` relative to `root`, with '/' separators (it must lie lexically below root)."""
    return PurePosixPath(Path(path).relative_to(root)).as_posix()


def open_dir(root: Path, relpath: str, *, create: bool = False) -> int:
    """A descriptor of the directory `root/relpath`, every component a real directory.

    With `create`, missing directories are made (and their parent fsynced, or a crash
    could lose the new name). The caller closes the descriptor.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = PurePosixPath()
    try:
        for part in PurePosixPath(relpath).parts:
            walked /= part
            child = _step(fd, part, walked.as_posix(), create=create)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _step(parent: int, name: str, shown: str, *, create: bool) -> int:
    """Open directory `name` in `parent`, making it if asked."""
    try:
        try:
            return os.open(name, _DIR, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
        try:
            os.mkdir(name, 0o755, dir_fd=parent)
            os.fsync(parent)
        except FileExistsError:
            pass  # made by someone else meanwhile: it is checked like any other
        return os.open(name, _DIR, dir_fd=parent)
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise unsafe(parent, name, shown) from None
        raise


def open_at(dir_fd: int, name: str, flags: int, mode: int = 0o644, *, shown: str) -> int:
    """Open file `name` in the directory `dir_fd` without following a symlink.

    The file must be a regular one, and, when opened for writing without O_EXCL, have one
    link only. `shown` is the path the error names (relative to the store root).
    """
    try:
        fd = os.open(name, flags | _FILE, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise unsafe(dir_fd, name, shown) from None
        raise
    try:
        info = os.fstat(fd)
        in_place = flags & _WRITES and not flags & os.O_EXCL
        if not stat.S_ISREG(info.st_mode) or (in_place and info.st_nlink != 1):
            raise unsafe(dir_fd, name, shown)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(root: Path, relpath: str, flags: int, mode: int = 0o644) -> int:
    """Open `root/relpath` by `open_dir` and `open_at`: no symlink anywhere below root."""
    parent, _, name = relpath.rpartition("/")
    dir_fd = open_dir(root, parent, create=bool(flags & os.O_CREAT))
    try:
        return open_at(dir_fd, name, flags, mode, shown=relpath)
    finally:
        os.close(dir_fd)


def check_dir(root: Path, relpath: str, *, create: bool = False) -> Path:
    """`root/relpath` once it is checked (or made) to be a chain of real directories."""
    os.close(open_dir(root, relpath, create=create))
    return root / relpath


def remove_tree(root: Path, relpath: str) -> bool:
    """Delete `root/relpath` (a file, or a directory with all below it); False if absent.

    The directories above it are checked like any other, and the tree is removed through
    descriptors (shutil.rmtree with dir_fd), so a symlink in the store can never make a
    cleanup delete something elsewhere.
    """
    parent, _, name = relpath.rpartition("/")
    try:
        dir_fd = open_dir(root, parent)
    except FileNotFoundError:
        return False
    try:
        try:
            info = os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)  # a symlink itself, never what it points to
        return True
    finally:
        os.close(dir_fd)


def unsafe(dir_fd: int, name: str, shown: str) -> UnsafeFile:
    """The error for `name` in `dir_fd`, saying what it is instead of a plain file or dir."""
    what = describe(dir_fd, name)
    return UnsafeFile(
        f"{shown} is {what}: a store holds only plain files and directories, so it is "
        "never written through",
        hint=f"move {shown} out of the store (or restore the real file from a backup), "
        "then retry; 'lakehouse doctor' lists every such path",
        path=shown,
        found=what,
    )


def describe(dir_fd: int | None, name: str) -> str:
    """What `name` is, in words ("a symlink to /etc/passwd", "a FIFO", ...)."""
    try:
        info = os.lstat(name, dir_fd=dir_fd)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        try:
            return f"a symlink to {os.readlink(name, dir_fd=dir_fd)}"
        except OSError:
            return "a symlink"
    if stat.S_ISREG(mode) and info.st_nlink > 1:
        return f"a file with {info.st_nlink} hard links"
    kinds = (
        (stat.S_ISREG, "a file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((word for test, word in kinds if test(mode)), "a special file")


def unsafe_entries(root: Path, relpath: str = "") -> list[tuple[str, str]]:
    """Every path at or below `root/relpath` that is neither a directory nor a regular file.

    Each as (path relative to root, what it is); symlinked directories are not entered.
    A missing `relpath` has none.
    """
    found: list[tuple[str, str]] = []
    start = root / relpath if relpath else root
    try:
        info = os.lstat(start)
    except FileNotFoundError:
        return found
    if relpath and not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        return [(relpath, describe(None, str(start)))]
    if not stat.S_ISDIR(info.st_mode):
        return found
    for directory, dirnames, filenames in os.walk(start):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(directory, name)
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue  # removed while walking (a temp file, a pruned checkpoint)
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                found.append((relpath_of(root, path), describe(None, path)))
    return found
