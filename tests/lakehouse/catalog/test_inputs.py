"""What `dataset ingest` and `register` read: a regular file or stdin, capped, or nothing.

A FIFO must not hang the command, a field too long for the CSV reader must not abort the
interpreter, and no input may be read past --max-bytes (a gzip file past it once
decompressed). Each refusal is exit 3 with one error and one hint, nothing appended and
nothing left under objects/ or projections/cache/.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli

BIN = Path(sys.executable).parent
STAFF = "id,name\n1,Ana\n2,Ben\n"


def journal(store: Path) -> dict[str, str]:
    return {
        str(path.relative_to(store)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((store / "journal").rglob("*"))
        if path.is_file()
    }


def leftovers(store: Path) -> list[str]:
    found = [*store.glob("objects/**/*"), *store.glob("projections/cache/*")]
    return sorted(str(path.relative_to(store)) for path in found)


def run(store: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), "dataset", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_a_fifo_is_refused_at_once_by_ingest_and_register(store: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "staff.csv"
    os.mkfifo(fifo)  # nobody ever writes to it: a blocking open would wait forever
    driver = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from lakehouse.cli import cli\n"
        "store, fifo = sys.argv[1:]\n"
        "out = []\n"
        "for verb in (['ingest', 'staff', fifo], ['register', 'staff', '--path', fifo]):\n"
        "    done = CliRunner().invoke(cli, ['--store', store, 'dataset', *verb])\n"
        "    out.append([done.exit_code, done.stdout, done.stderr])\n"
        "print(json.dumps(out))\n"
    )
    before = journal(store)
    done = subprocess.run(
        [sys.executable, "-c", driver, str(store), str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,  # a guard only: the refusal comes in well under a second
        check=True,
    )
    expected = [
        3,
        "",
        f"error: cannot read {fifo}: it is a FIFO (named pipe)\n"
        "hint: give a regular file; to read a stream, pipe it in and give '-'\n",
    ]
    assert json.loads(done.stdout) == [expected, expected]
    assert journal(store) == before and leftovers(store) == []


def test_devices_and_directories_are_refused(store: Path, tmp_path: Path) -> None:
    for path, what in [("/dev/zero", "a character device"), (str(tmp_path), "a directory")]:
        code, out, err = run(store, "ingest", "staff", path)
        assert (code, out) == (3, "")
        assert err.startswith(f"error: cannot read {path}: it is {what}\n")


def test_no_input_is_read_past_max_bytes(store: Path, tmp_path: Path) -> None:
    csv = tmp_path / "staff.csv"
    csv.write_text(STAFF)
    size = len(STAFF)
    hint = "hint: raise the cap with --max-bytes N, or split the input\n"
    before = journal(store)
    cap = str(size - 1)
    assert run(store, "ingest", "staff", str(csv), "--max-bytes", cap) == (
        3,
        "",
        f"error: {csv} is {size} bytes; an ingest reads at most {size - 1} bytes\n" + hint,
    )
    assert run(store, "ingest", "staff", "-", "--max-bytes", cap, stdin=STAFF.encode()) == (
        3,
        "",
        f"error: <stdin> holds more than {size - 1} bytes; an ingest reads at most "
        f"{size - 1} bytes\n" + hint,
    )
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"id\n" + b"0\n" * 1_000_000))  # 2 MB in ~2 KB
    assert bomb.stat().st_size < 100_000
    assert run(store, "ingest", "staff", str(bomb), "--max-bytes", "100000") == (
        3,
        "",
        f"error: {bomb} decompresses to more than 100,000 bytes; an ingest reads at most "
        "100,000 bytes\n" + hint,
    )
    assert run(store, "register", "staff", "--path", str(csv), "--max-bytes", cap)[0] == 3
    assert journal(store) == before and leftovers(store) == []
    assert (
        run(store, "ingest", "staff", "-", "--max-bytes", str(size), stdin=STAFF.encode())[0] == 0
    )
    assert leftovers(store) == [] or all(p.startswith("objects/") for p in leftovers(store))


def test_a_field_longer_than_a_row_may_be_is_exit_3_not_an_abort(
    store: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "long.csv"
    field = "x" * 10_000_000
    csv.write_text(f'id,notes\n1,short\n2,"{field}"\n3,after\n')
    before = journal(store)
    done = subprocess.run(  # a crash (pyarrow once aborted the interpreter) must not kill pytest
        [str(BIN / "lakehouse"), "--store", str(store), "dataset", "ingest", "long", str(csv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        f"error: {csv}: the line through byte offset 2,000,001 is longer than the 2,000,000 bytes "
        "a row may hold\n"
        "hint: a row (with its quoted line breaks) may hold at most 2,000,000 bytes: split "
        "the long field, or write the data as Parquet and register it\n"
    )
    assert journal(store) == before and leftovers(store) == []
    # a field just too long for a row is refused too (by DuckDB's reader), one that fits is not
    csv.write_text(f'id,notes\n1,"{"y" * 1_999_990}"\n2,"{"z" * 2_000_000}"\n')
    code, out, err = run(store, "ingest", "long", str(csv))
    assert (code, out) == (3, "")
    assert err.startswith(f"error: {csv}: a row of 2,000,")
    assert "is longer than the 2,000,000 bytes a row may hold\n" in err
    csv.write_text(f'id,notes\n1,"{"y" * 1_999_990}"\n')
    assert run(store, "ingest", "long", str(csv))[0] == 0


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b'{"id": 1, "name": "Ana"}\n{"id": 2, "name": "Ben"}\n', "JSON"),
        (b'[\n  {"id": 1}\n]\n', "JSON"),
        (b'<?xml version="1.0"?>\n<rows><row id="1"/></rows>\n', "XML or HTML"),
    ],
    ids=["json-lines", "json-array", "xml"],
)
def test_json_and_xml_are_refused_not_ingested_as_one_column(
    store: Path, tmp_path: Path, data: bytes, looks_like: str
) -> None:
    path = tmp_path / "staff.csv"
    path.write_bytes(data)
    before = journal(store)
    assert run(store, "ingest", "staff", str(path)) == (
        3,
        "",
        f"error: {path} looks like {looks_like}, not a CSV\n"
        "hint: convert it to CSV or Parquet first (e.g. with DuckDB's read_json); give a CSV "
        "file (UTF-8 text, a header row, one record per line) or a Parquet file\n",
    )
    assert journal(store) == before and leftovers(store) == []
