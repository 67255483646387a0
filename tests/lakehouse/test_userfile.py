"""Files a user names (lakehouse/_userfile.py): a regular file or `-`, at most a cap, UTF-8.

`session record` and `serve --token-file` read them. A device or a FIFO is refused before
a byte is read: those run in a child with a memory limit and a deadline, since the code
before this grew on /dev/zero until it was killed and hung on /dev/urandom and a FIFO.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from tests.lakehouse._util import SESSION, head_seq

MAX_SESSION_FILE = 1 << 20  # the cap `session record --help` documents
DEADLINE = 20.0  # seconds a refusal may take in a child: it takes well under one


# the CLI with at most 1 GiB of memory (a wrapper, not preexec_fn: this process may run
# threads); the code before this took all it could of /dev/zero
LIMITED = (
    "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    "sys.argv[0] = 'lakehouse'; runpy.run_module('lakehouse.cli', run_name='__main__')"
)


def run(store: Path, *args: str, stdin: object = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_devices_and_fifos_are_refused_before_a_byte_is_read(store: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody ever writes to it
    device = "is not a regular file (a character device)"
    cases = {  # the CLI's arguments -> what it must say, at once (children run side by side)
        ("session", "record", "/dev/zero"): f"FILE: /dev/zero {device}",
        ("session", "record", "/dev/urandom"): f"FILE: /dev/urandom {device}",
        ("session", "record", str(fifo)): f"FILE: {fifo} is not a regular file (a FIFO)",
        ("serve", "--host", "0.0.0.0", "--token-file", "/dev/zero"): (
            f"--token-file: /dev/zero {device}"
        ),
    }
    children = {
        args: subprocess.Popen(
            [sys.executable, "-c", LIMITED, "--store", str(store), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in cases
    }
    try:
        for args, child in children.items():
            out, err = child.communicate(timeout=DEADLINE)  # it hung on the others
            assert (child.returncode, out) == (3, ""), err[-2000:]
            hint = "pass a regular file" + (", or - to read standard input" * (args[0] != "serve"))
            assert err == f"error: {cases[args]}\nhint: {hint}\n"
    finally:
        for child in children.values():
            child.kill()
            child.communicate()


def test_a_directory_and_a_missing_file_are_refused(store: Path, tmp_path: Path) -> None:
    code, _, err = run(store, "session", "record", str(tmp_path))
    assert (code, err.splitlines()[0]) == (
        3,
        f"error: FILE: {tmp_path} is not a regular file (a directory)",
    )
    code, _, err = run(store, "session", "record", str(tmp_path / "nope.json"))
    assert (code, err.splitlines()[0]) == (
        3,
        f"error: FILE: cannot read {tmp_path / 'nope.json'}: No such file or directory",
    )


def test_a_session_file_over_the_cap_is_refused_by_its_size(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    text = json.dumps(SESSION, indent=2)
    path.write_text(text + " " * (MAX_SESSION_FILE - len(text)))  # the cap exactly: taken
    assert run(store, "session", "record", str(path))[0] == 0
    before = head_seq(store)
    path.write_text(text.replace('"s-1"', '"s-2"') + " " * (MAX_SESSION_FILE + 1 - len(text)))
    code, out, err = run(store, "session", "record", str(path))
    assert (code, out) == (3, "")
    assert err.startswith(
        f"error: FILE: {path} is larger than 1 MiB (1,048,576 bytes), the most it may hold\n"
        "hint: a session is one journal record, refused above 256 KiB anyway"
    )
    assert head_seq(store) == before


class Endless(io.BufferedIOBase):
    """Standard input of zeros with no end in sight, counting what was read of it (the
    code before this read it all: it ends after 3 MiB, so that code ends too)."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = 3 * MAX_SESSION_FILE if size is None or size < 0 else size
        if self.taken >= 3 * MAX_SESSION_FILE:
            return b""
        self.taken += size
        return b"\0" * size


def test_stdin_is_read_for_at_most_the_cap_plus_one_byte(store: Path) -> None:
    stream = Endless()
    code, out, err = run(store, "session", "record", "-", stdin=stream)
    assert (code, out) == (3, "")
    assert err.startswith("error: FILE: standard input is larger than 1 MiB (1,048,576 bytes)")
    assert stream.taken == MAX_SESSION_FILE + 1
    assert head_seq(store) == 1


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_bytes_that_are_not_utf8_are_named_by_offset(
    store: Path, tmp_path: Path, source: str
) -> None:
    data = json.dumps({**SESSION, "model": "mé"}, ensure_ascii=False).encode("latin-1")
    offset = data.index(b"\xe9")
    path = tmp_path / "session.json"
    path.write_bytes(b"\n" + data)
    args, stdin = ([str(path)], None) if source == "file" else (["-"], b"\n" + data)
    code, out, err = run(store, "session", "record", *args, stdin=stdin)
    where = str(path) if source == "file" else "standard input"
    assert (code, out) == (3, "")
    assert err == (
        f"error: FILE: {where} is not UTF-8: byte 0xe9 at byte offset {offset + 1} (line 2)\n"
        "hint: save it as UTF-8 (e.g. iconv -f latin1 -t utf-8); the first bad byte is at "
        f"byte offset {offset + 1}, line 2\n"
    )
    assert head_seq(store) == 1
