"""The journal's CLI verbs: output, --json, exit codes and the exact error text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from journal import Journal
from lakehouse.cli import cli


def run(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args])
    return result.exit_code, result.stdout, result.stderr


def test_init_creates_then_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "s"
    code, out, _ = run(root, "init")
    assert code == 0 and out.startswith(f"initialised store at {root} (store_id ")
    code, out, _ = run(root, "init", "--json")
    body = json.loads(out)
    assert code == 0 and body["created"] is False and body["head_seq"] == 1
    assert body["store_id"] == Journal.open(root).store_id


def test_missing_store_exits_5_with_hint(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "nowhere", "journal", "stats")
    assert code == 5 and out == ""
    assert err == (
        f"error: no store at {tmp_path / 'nowhere'}\n"
        "hint: create one with 'lakehouse init' or pass --store PATH\n"
    )
    code, out, _ = run(tmp_path / "nowhere", "--json", "journal", "stats")
    assert code == 5 and json.loads(out)["error"]["code"] == "store_not_found"


def test_store_comes_from_the_environment(store: Path) -> None:
    result = CliRunner().invoke(
        cli, ["journal", "stats", "--json"], env={"LAKEHOUSE_STORE": str(store)}
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["store"] == str(store)


def _append(store: Path, count: int) -> list[int]:
    with Journal.open(store) as journal:
        return [
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i}).seq
            for i in range(count)
        ]


def test_tail_prints_the_last_ten_and_takes_cursors(store: Path) -> None:
    seqs = _append(store, 15)
    code, out, _ = run(store, "journal", "tail")
    assert code == 0
    assert [int(line.split()[0]) for line in out.splitlines()] == seqs[-10:]
    code, out, _ = run(store, "journal", "tail", "--limit", "3")
    assert [int(line.split()[0]) for line in out.splitlines()] == seqs[-3:]
    code, out, _ = run(store, "journal", "tail", "--after", str(seqs[2]), "--limit", "2", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in records] == seqs[3:5]
    assert records[0]["payload"] == {"i": 3} and len(records[0]["crc"]) == 8


def test_tail_usage_error_exits_2(store: Path) -> None:
    code, _, err = run(store, "journal", "tail", "--no-such-option")
    assert code == 2 and "No such option '--no-such-option'" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("journal", "tail", "--after", "-5"), "-5 is not in the range 0<=x<="),
        (("journal", "tail", "--after", "abc"), "'abc' is not a valid integer"),
        (("journal", "tail", "--limit", "0"), "0 is not in the range x>=1"),
        (("--lock-timeout", "nan", "journal", "stats"), "'nan' is not a finite number"),
        (("--lock-timeout", "inf", "journal", "stats"), "'inf' is not a finite number"),
        (("sql", "--as-of-seq", "-1", "SELECT 1"), "-1 is not in the range 0<=x<="),
        (("sql", "--timeout", "nan", "SELECT 1"), "'nan' is not a finite number"),
        (("checkpoint", "prune", "--keep", "0"), "prune must keep at least 1 checkpoint"),
        (("trace", "update", "t", "--text", "x", "--if-rev", "-1"), "if_rev: Input should be"),
        (("trace", "search", "q", "-k", "0"), "0 is not in the range 1<=x<=1000"),
        (
            ("playbook", "record", "--query", "q", "--endorsed", "a", "--target-count", str(2**63)),
            "target_count: Input should be less than or equal to 9223372036854775807",
        ),
    ],
)
def test_a_number_out_of_its_range_is_invalid_input(
    store: Path, args: tuple[str, ...], said: str
) -> None:
    """A wrong or out-of-range value is exit 3 with nothing appended; a negative cursor
    used to print the whole journal with a false 'archived' warning."""
    head = Journal.open(store).head_seq
    code, out, err = run(store, *args)
    assert (code, out) == (3, "") and said in err, err
    assert Journal.open(store).head_seq == head


def test_verify_healthy_then_damaged_exits_7(store: Path) -> None:
    seqs = _append(store, 5)
    code, out, _ = run(store, "journal", "verify")
    assert code == 0 and out.startswith("healthy: 6 records in 1 segments")
    segment = next((store / "journal" / "segments").iterdir())
    data = bytearray(segment.read_bytes())
    data[data.index(b'"id":"t2"') + 6] ^= 0x04
    segment.write_bytes(bytes(data))
    code, out, _ = run(store, "journal", "verify")
    assert code == 7
    assert out.splitlines()[0].startswith(
        f"error: crc_mismatch (segment {segment.name}, seq {seqs[2]}): "
    )
    assert "DAMAGED: 5 records" in out
    code, out, _ = run(store, "journal", "verify", "--json")
    report = json.loads(out)
    assert code == 7 and report["healthy"] is False
    assert [(f["code"], f["seq"]) for f in report["findings"]] == [("crc_mismatch", seqs[2])]


def test_segments_list_and_stats(store: Path) -> None:
    with Journal.open(store, segment_bytes=600) as journal:
        for i in range(6):
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"pad": "x" * 200})
    code, out, _ = run(store, "segments", "list", "--json")
    rows = json.loads(out)["segments"]
    assert code == 0 and len(rows) > 1
    assert [r["state"] for r in rows] == ["sealed"] * (len(rows) - 1) + ["active"]
    assert rows[0]["first_seq"] == 1
    code, out, _ = run(store, "journal", "stats", "--json")
    stats = json.loads(out)
    assert stats["head_seq"] == 7 and stats["segments"] == len(rows)
    code, out, _ = run(store, "journal", "stats")
    assert "head seq            7" in out and "lock                free" in out


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for path in (
        ["init"],
        ["journal", "stats"],
        ["journal", "tail"],
        ["journal", "verify"],
        ["segments", "list"],
        ["demo"],
        [],
    ):
        result = runner.invoke(cli, [*path, "-h"])
        assert result.exit_code == 0, path
        assert "Example:" in result.stdout or path in (["journal"], ["segments"]), path


def _lakehouse(*args: str) -> list[str]:
    return [sys.executable, "-m", "lakehouse.cli", *args]


def test_tail_follow_prints_new_records(store: Path) -> None:
    child = subprocess.Popen(
        _lakehouse("--store", str(store), "journal", "tail", "--follow", "--json"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert json.loads(child.stdout.readline())["seq"] == 1
        seq = _append(store, 1)[0]
        deadline = time.monotonic() + 10
        line = child.stdout.readline()  # blocks until --follow prints the new record
        assert time.monotonic() < deadline
        assert json.loads(line)["seq"] == seq
    finally:
        child.terminate()
        child.communicate(timeout=10)


def test_the_cli_starts_without_heavy_imports() -> None:
    code = (
        "import sys, lakehouse.cli\n"
        "heavy = {'duckdb', 'pyarrow', 'hnswlib', 'numpy', 'pandas'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("entry", ["module", "script"])
def test_entry_points_run(store: Path, entry: str) -> None:
    script = Path(sys.executable).with_name("lakehouse")
    command = _lakehouse() if entry == "module" else [str(script)]
    done = subprocess.run(
        [*command, "--store", str(store), "journal", "stats", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert done.returncode == 0 and json.loads(done.stdout)["head_seq"] == 1


def test_readme_cli_reference_is_current() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    try:
        import gen_cli_reference
    finally:
        sys.path.pop(0)
    readme = gen_cli_reference.README.read_text()
    assert gen_cli_reference.render(readme) == readme, "run tools/gen_cli_reference.py"
