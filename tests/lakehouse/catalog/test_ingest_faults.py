"""`dataset ingest` of a hostile file or onto a full disk: one error, its exit code, no trace.

Each case must end as exactly one ``error:`` line and one ``hint:`` line on stderr, the
documented exit code (3 for input that is not a CSV, 1 for a write that failed), no
Python traceback, nothing under objects/ and the journal byte for byte as it was.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lakehouse import ObjectWriteFailed, Store
from lakehouse.cli import cli

BIN = Path(sys.executable).parent
UTF8_HINT = "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv"
CSV_HINT = "give a CSV file (UTF-8 text, a header row, one record per line) or a Parquet file"


def _journal(store: Path) -> dict[str, str]:
    return {
        str(path.relative_to(store)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((store / "journal").rglob("*"))
        if path.is_file()
    }


def _objects(store: Path) -> list[str]:
    return sorted(
        str(p.relative_to(store)) for p in [*store.glob("objects"), *store.glob("objects/**/*")]
    )


def _ingest(store: Path, path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--store", str(store), "dataset", "ingest", "staff", str(path)]
    )
    return result.exit_code, result.stdout, result.stderr


def _first_non_utf8(data: bytes) -> tuple[int, int]:
    """Where Python's own decoder finds the first byte that is not UTF-8, and its line."""
    with pytest.raises(UnicodeDecodeError) as raised:
        data.decode()
    at = raised.value.start
    return at, data[:at].count(b"\n") + 1


def _random_rows(rng: random.Random) -> bytes:
    return b"".join(bytes(rng.randrange(256) for _ in range(60)) + b"\n" for _ in range(2000))


def _latin1_rows(rng: random.Random) -> bytes:
    rows = [f"{n},Kraków {rng.randrange(1000)}" for n in range(2000)]
    rows[1500] += ",one too many"  # a ragged row holding latin-1: the bytes are named first
    return ("id,city\n" + "\n".join(rows) + "\n").encode("latin-1")


def test_a_file_that_is_not_utf8_text_says_where(tmp_path: Path, store: Path) -> None:
    data = _latin1_rows(random.Random(12))
    path = tmp_path / "rows.csv"
    path.write_bytes(data)
    before = _journal(store)
    offset, line = _first_non_utf8(data)
    assert _ingest(store, path) == (
        3,
        "",
        f"error: {path} is not UTF-8 text: line {line} (byte offset {offset}) is not valid "
        f"UTF-8\nhint: {UTF8_HINT}\n",
    )
    assert _objects(store) == [] and _journal(store) == before


@pytest.mark.parametrize("valid_utf8", [False, True], ids=["random", "utf8-with-nul"])
def test_a_binary_file_is_refused_naming_its_first_nul(
    tmp_path: Path, store: Path, valid_utf8: bool
) -> None:
    # random bytes, and text that is valid UTF-8 but holds NUL bytes (as a binary file does)
    rng = random.Random(12)
    data = _random_rows(rng) if valid_utf8 is False else b"id,name\n1,a\x00b\n2,c\n"
    path = tmp_path / "rows.csv"
    path.write_bytes(data)
    before = _journal(store)
    assert _ingest(store, path) == (
        3,
        "",
        f"error: {path} is a binary file, not a CSV (a NUL byte at offset {data.index(0)})\n"
        f"hint: {CSV_HINT}\n",
    )
    assert _objects(store) == [] and _journal(store) == before


def _csv(path: Path, rows: int) -> Path:
    rng = random.Random(5)
    body = "".join(f"{n},{rng.randrange(10**12)},{rng.random()}\n" for n in range(rows))
    path.write_text("id,code,score\n" + body)
    return path


def _is_temp(path: object) -> bool:
    return str(path).endswith(".tmp")


@pytest.mark.parametrize("call", ["open", "fsync", "replace"])
def test_a_full_disk_while_writing_the_object(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    real = getattr(os, call)

    def full(*args: Any, **kwargs: Any) -> Any:
        target = os.readlink(f"/proc/self/fd/{args[0]}") if call == "fsync" else args[0]
        if _is_temp(target) and (call != "open" or args[1] & os.O_CREAT):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    source = _csv(tmp_path / "staff.csv", 100)
    before = _journal(store)
    monkeypatch.setattr(os, call, full)
    code, out, err = _ingest(store, source)
    with Store.open(store) as lake, pytest.raises(ObjectWriteFailed) as raised:
        lake.datasets.ingest("staff", source)  # the same error, typed, for the Python API
    monkeypatch.undo()
    cause = raised.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == raised.value.fields["errno"] == 28
    assert (code, out) == (1, "")
    assert err == (
        f"error: could not write the object of dataset staff under {store}/objects: No space "
        "left on device (errno 28)\n"
        f"hint: free space on the filesystem that holds {store}/objects (an object takes about "
        "as much as its data) and ingest again; nothing was written and nothing recorded\n"
    )
    assert _objects(store) == [] and _journal(store) == before


def test_the_parquet_writer_meets_the_file_size_limit(tmp_path: Path, store: Path) -> None:
    source = _csv(tmp_path / "staff.csv", 40_000)
    limit = 256 * 1024  # far above the journal's one segment, below the object

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    before = _journal(store)
    command = [str(BIN / "lakehouse"), "--store", str(store), "dataset", "ingest", "staff"]
    done = subprocess.run(
        [*command, str(source)],
        check=False,
        capture_output=True,
        text=True,
        preexec_fn=limited,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"error: could not write the object of dataset staff under {store}/objects: File too "
        "large (errno 27)\n"
        "hint: the object is larger than this process may write (ulimit -f): raise the limit "
        "and ingest again; nothing was written and nothing recorded\n"
    )
    assert _objects(store) == [] and _journal(store) == before
