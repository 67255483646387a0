"""Reading a file a user names (a session's JSON, a token file): a regular file or `-`
for standard input, never more than a cap, and text only if it is UTF-8.

Anything else is refused before a byte is read: /dev/zero was read until the kernel
killed the process, /dev/urandom for ever, and a FIFO with no writer blocks the open
itself (it is opened non-blocking, so the refusal comes at once). A regular file larger
than the cap is refused by its size; standard input, whose size nobody knows, is read
for at most `limit + 1` bytes, so an endless stream costs `limit` bytes, not a hang
(tests/lakehouse/test_userfile.py). The refusals are InvalidInput: exit 3.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from lakehouse._errors import InvalidInput

STDIN = "-"
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}
_CHUNK = 1 << 16


def read_user_file(
    name: str | Path,
    *,
    limit: int,
    field: str,
    fits: str,
    stdin: bool = True,
    check: Callable[[Path, os.stat_result], None] | None = None,
) -> bytes:
    """The bytes of the regular file `name` (or of standard input for `-`, if `stdin`),
    at most `limit` of them; InvalidInput naming `field` otherwise.

    `fits` says in the hint what fits in the cap; `check` sees the opened file's status
    before anything is read (a token file's mode).
    """
    if stdin and str(name) == STDIN:
        data = _read_at_most(sys.stdin.buffer.read, limit + 1)
        if len(data) > limit:
            raise _too_large("standard input", limit, field, fits)
        return data
    path = Path(name)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _unreadable(path, exc, field, stdin) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
            raise InvalidInput(
                f"{field}: {path} is not a regular file ({kind})",
                hint="pass a regular file" + (", or - to read standard input" if stdin else ""),
                field=field,
                path=str(path),
            )
        if check is not None:
            check(path, info)
        if info.st_size > limit:
            raise _too_large(str(path), limit, field, fits)
        data = _read_at_most(lambda count: os.read(fd, count), limit + 1)  # it may grow
    except OSError as exc:
        raise _unreadable(path, exc, field, stdin) from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _too_large(str(path), limit, field, fits)
    return data


def decode_utf8(data: bytes, *, field: str, where: str) -> str:
    """`data` as text; InvalidInput naming the first byte that is not UTF-8, by offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise InvalidInput(
            f"{field}: {where} is not UTF-8: byte 0x{data[offset]:02x} at byte offset "
            f"{offset} (line {line})",
            hint=f"save it as UTF-8 (e.g. iconv -f latin1 -t utf-8); the first bad byte is "
            f"at byte offset {offset}, line {line}",
            field=field,
            offset=offset,
            line=line,
        ) from None


def describe_size(limit: int) -> str:
    """A cap for people: '1 MiB (1,048,576 bytes)'."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit} ({limit:,} bytes)"
    return f"{limit:,} bytes"


def _read_at_most(read: Callable[[int], bytes | None], count: int) -> bytes:
    """Up to `count` bytes, in chunks, stopping at the end of the file."""
    data = bytearray()
    while len(data) < count:
        chunk = read(min(_CHUNK, count - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _unreadable(path: Path, error: OSError, field: str, stdin: bool) -> InvalidInput:
    return InvalidInput(
        f"{field}: cannot read {path}: {error.strerror or error}",
        hint="check the path" + (", or pass - to read standard input" if stdin else ""),
        field=field,
        path=str(path),
    )


def _too_large(where: str, limit: int, field: str, fits: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {where} is larger than {describe_size(limit)}, the most it may hold",
        hint=fits,
        field=field,
        limit=limit,
    )
