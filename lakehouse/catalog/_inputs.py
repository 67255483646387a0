"""The bytes a user gives `dataset ingest` or `register`: a regular file, or a stream (stdin).

Rules (tests/lakehouse/catalog/test_inputs.py):

- Only a regular file is read. A FIFO, a device, a socket or a directory is refused at
  once, exit 3: the file is opened with ``O_NONBLOCK``, so a FIFO with no writer cannot
  block the open, and it is checked with ``fstat`` on that very descriptor. The readers
  then open ``/proc/self/fd/N`` (where there is one), which is the checked file even if
  its name is replaced meanwhile and which DuckDB cannot take for a glob pattern.
- At most `max_bytes` bytes are read (``MAX_INPUT_BYTES``, 16 GiB, unless the caller says
  otherwise): a larger file is refused before a byte of it is parsed, a stream or a gzip
  file's decompressed bytes as soon as they pass the cap.
- A stream and a gzip file are copied (decompressed) into ``projections/cache/`` first,
  as ``.ingest.tmp-<pid>-<random>``, and removed when the command ends (a killed one leaves
  litter that ``doctor`` names and ``--repair`` sweeps): the readers need a file they can
  read twice (DuckDB sniffs, then parses; a type that widens is read again).
- What the bytes are is decided from the first MiB and the last 4 bytes (`classify`):
  Parquet, gzip, or CSV; anything else (empty, another compression, binary, JSON, XML)
  is refused naming the file, with a hint.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import secrets
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from journal import check_dir
from lakehouse._errors import InvalidInput, ObjectWriteFailed

MAX_INPUT_BYTES = 16 << 30  # the default cap on the bytes one ingest reads
HEAD_BYTES = 1 << 20  # what `classify` looks at
COPY_BYTES = 1 << 20
PARQUET_MAGIC = b"PAR1"
PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})
GZIP_MAGIC = b"\x1f\x8b"
DECOMPRESS_HINT = "decompress it and ingest the CSV (a gzip file is read as it is)"
OTHER_MAGIC = {
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", DECOMPRESS_HINT),
    b"BZh": ("bzip2-compressed", DECOMPRESS_HINT),
    b"\xfd7zXZ\x00": ("xz-compressed", DECOMPRESS_HINT),
    b"PK\x03\x04": ("a zip archive", "unzip it; save a spreadsheet (.xlsx) as CSV first"),
}
HEADER_HINT = "the first line must name the columns, e.g. id,name,city"
CSV_HINT = "give a CSV file (UTF-8 text, a header row, one record per line) or a Parquet file"
STDIN = "-"  # how the CLI and the catalog record name standard input
STDIN_SHOWN = "<stdin>"  # and how messages do
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


@dataclass(frozen=True)
class Input:
    """A checked input: the path its readers open, and what it is."""

    path: str  # what the readers open: the checked file itself (or its decompressed copy)
    shown: str  # how messages name it: the user's path, or "-" for stdin
    format: str  # "csv" or "parquet"
    compression: str | None  # "gzip" if it was decompressed on the way in
    bytes: int  # bytes read from the user (for gzip: the compressed bytes)
    size: int  # bytes the readers see


def refuse(shown: str, message: str, hint: str, **fields: Any) -> InvalidInput:
    """The refusal of an input: field "file", naming it."""
    return InvalidInput(message, hint=hint, field="file", file=shown, **fields)


@contextlib.contextmanager
def open_input(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    spool: Path | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
) -> Iterator[Input]:
    """Check `source` (a path, or a binary stream such as stdin) and yield it as an Input.

    `spool` is the store root whose projections/cache/ holds a stream's or a gzip file's
    bytes while they are read (None: the system's temp directory).
    """
    with contextlib.ExitStack() as stack:
        if isinstance(source, str | os.PathLike):
            shown = os.fspath(source)
            fd = _open_regular(shown, max_bytes)
            stack.callback(os.close, fd)
            given = size = os.fstat(fd).st_size
            path, compressed = _fd_path(fd, shown), _read_at(fd, shown) == GZIP_MAGIC
            if compressed:
                with os.fdopen(os.dup(fd), "rb") as file:
                    path, size = _spooled(stack, spool, file, shown, max_bytes, gzipped=True)
        else:
            shown = STDIN_SHOWN
            stream = _Prefixed(source)
            compressed = stream.head == GZIP_MAGIC
            path, size = _spooled(stack, spool, stream, shown, max_bytes, gzipped=compressed)
            given = stream.count
        kind = classify(path, shown, nested=compressed)
        yield Input(path, shown, kind, "gzip" if compressed else None, given, size)


def detect_format(path: str | os.PathLike[str]) -> str:
    """'parquet' if the file has Parquet's magic bytes at both ends, 'gzip' if it is
    gzip-compressed (its content is then read as a CSV or a Parquet file), else 'csv'.

    Refuses (InvalidInput) what is none of them: not a regular file, empty, binary,
    JSON, XML, another compression.
    """
    shown = os.fspath(path)
    fd = _open_regular(shown, sys.maxsize)
    try:
        return classify(_fd_path(fd, shown), shown)
    finally:
        os.close(fd)


def classify(path: str, shown: str, *, nested: bool = False) -> str:
    """'parquet', 'gzip' (unless `nested`: a gzip file's content) or 'csv'; else refuse."""
    try:
        with open(path, "rb") as file:
            head, size = file.read(HEAD_BYTES), os.fstat(file.fileno()).st_size
            file.seek(max(size - 4, 0))
            tail = file.read(4)
    except OSError as error:
        raise refuse(shown, f"cannot read {shown}: {error.strerror}", "check the path") from error
    if size == 0:
        raise refuse(shown, f"{shown} is empty", HEADER_HINT)
    if size >= 12 and head[:4] == tail == PARQUET_MAGIC:
        return "parquet"
    if Path(shown).suffix.lower() in PARQUET_SUFFIXES or head[:4] == PARQUET_MAGIC:
        why = "no PAR1 footer: truncated?" if head[:4] == PARQUET_MAGIC else "no PAR1 magic bytes"
        hint = "give the path of a complete Parquet file, or name a CSV file *.csv"
        raise refuse(shown, f"{shown} is not a Parquet file ({why})", hint)
    if head.startswith(GZIP_MAGIC):
        if nested:
            raise refuse(shown, f"{shown} is gzip-compressed twice", "decompress it once")
        return "gzip"
    for magic, (what, hint) in OTHER_MAGIC.items():
        if head.startswith(magic):
            raise refuse(shown, f"{shown} is {what}", hint)
    _refuse_other_text(head, shown)
    return "csv"


def _refuse_other_text(head: bytes, shown: str) -> None:
    """Refuse a file that is binary, JSON, XML/HTML or blank rather than a CSV."""
    if (at := head.find(b"\0")) >= 0:
        message = f"{shown} is a binary file, not a CSV (a NUL byte at offset {at})"
        raise refuse(shown, message, CSV_HINT, offset=at)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise refuse(shown, f"{shown} has no header row", HEADER_HINT)
    rest = text[1:].lstrip()[:1]
    if (text[:1] == b"{" and rest in (b'"', b"}")) or (text[:1] == b"[" and rest in b'{["]'):
        what = "JSON"
    elif text[:1] == b"<" and text[:9].lower().startswith((b"<?xml", b"<!doctype", b"<html")):
        what = "XML or HTML"
    else:
        return
    hint = f"convert it to CSV or Parquet first (e.g. with DuckDB's read_json); {CSV_HINT}"
    raise refuse(shown, f"{shown} looks like {what}, not a CSV", hint, looks_like=what)


def _open_regular(shown: str, max_bytes: int) -> int:
    """A descriptor of `shown` once it is known to be a regular file of at most max_bytes."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(shown, flags)
    except OSError as error:
        raise refuse(shown, f"cannot read {shown}: {error.strerror}", "check the path") from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            hint = f"give a regular file; to read a stream, pipe it in and give {STDIN!r}"
            raise refuse(shown, f"cannot read {shown}: it is {what}", hint)
        if info.st_size > max_bytes:
            raise _too_big(shown, max_bytes, size=info.st_size)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fd_path(fd: int, shown: str) -> str:
    """A path that opens the file `fd` has open: /proc/self/fd/N on Linux, else the name."""
    proc = f"/proc/self/fd/{fd}"
    return proc if os.path.isdir("/proc/self/fd") else os.path.abspath(shown)


def _read_at(fd: int, shown: str) -> bytes:
    """The first two bytes of the file (os.pread: the descriptor's offset stays at 0)."""
    try:
        return os.pread(fd, 2, 0)
    except OSError as error:
        raise refuse(shown, f"cannot read {shown}: {error.strerror}", "check the path") from error


class _Prefixed(io.RawIOBase):
    """A stream whose first two bytes have been read already (to see a gzip magic)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self.source, self.count = source, 0
        self.head = self.pending = self._read(2)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        return self._read(size)

    def readinto(self, buffer: Any, /) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        return data


def _spooled(
    stack: contextlib.ExitStack,
    spool: Path | None,
    source: IO[bytes] | _Prefixed,
    shown: str,
    max_bytes: int,
    *,
    gzipped: bool,
) -> tuple[str, int]:
    """Copy (or decompress) `source` into a temp file removed with `stack`; its path, size."""
    directory = _spool_dir(spool, stack)
    path = os.path.join(directory, f".ingest.tmp-{os.getpid()}-{secrets.token_hex(8)}")
    reader = gzip.GzipFile(fileobj=source, mode="rb") if gzipped else source
    copied = 0
    try:
        out = open(path, "xb")  # noqa: SIM115 - closed below, its errors told apart
    except OSError as error:
        raise _spool_failed(shown, directory, error) from error
    stack.callback(_unlink, path)
    with out:
        while True:
            try:
                block = reader.read(COPY_BYTES)
            except (OSError, EOFError, zlib.error) as error:
                raise _unreadable(shown, error, gzipped=gzipped) from error
            if not block:
                return path, copied
            copied += len(block)
            if copied > max_bytes:
                raise _too_big(shown, max_bytes, decompressed=gzipped)
            try:
                out.write(block)
            except OSError as error:
                raise _spool_failed(shown, directory, error) from error


def _spool_dir(spool: Path | None, stack: contextlib.ExitStack) -> str:
    if spool is None:
        return stack.enter_context(tempfile.TemporaryDirectory(prefix="lakehouse-ingest-"))
    try:
        return str(check_dir(spool, "projections/cache", create=True))
    except OSError as error:
        raise _spool_failed(STDIN_SHOWN, str(spool / "projections" / "cache"), error) from error


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _unreadable(shown: str, error: Exception, *, gzipped: bool) -> InvalidInput:
    if gzipped and (isinstance(error, EOFError | zlib.error | gzip.BadGzipFile)):
        hint = "check it with gzip -t; give a whole gzip file, or the file uncompressed"
        return refuse(shown, f"{shown} is not a whole gzip file: {error}", hint)
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return refuse(shown, f"cannot read {shown}: {reason}", "check the input and try again")


def _spool_failed(shown: str, directory: str, error: OSError) -> ObjectWriteFailed:
    reason = f"{os.strerror(error.errno)} (errno {error.errno})" if error.errno else str(error)
    return ObjectWriteFailed(
        f"could not copy {shown} into {directory} to read it: {reason}",
        hint=f"free space under {directory} and ingest again; nothing was recorded",
        field="file",
        file=shown,
        errno=error.errno,
    )


def _too_big(
    shown: str, max_bytes: int, *, size: int | None = None, decompressed: bool = False
) -> InvalidInput:
    if size is not None:
        what = f"is {size:,} bytes"
    elif decompressed:
        what = f"decompresses to more than {max_bytes:,} bytes"
    else:
        what = f"holds more than {max_bytes:,} bytes"
    return refuse(
        shown,
        f"{shown} {what}; an ingest reads at most {max_bytes:,} bytes",
        "raise the cap with --max-bytes N, or split the input",
        max_bytes=max_bytes,
    )
