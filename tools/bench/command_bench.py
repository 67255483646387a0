"""Command benchmark: what one validated command costs, against baselines from the same run.

Usage: .venv/bin/python tools/bench/command_bench.py [--dir PATH] [--history N] [--quick]

Rows (each best of several runs; compare the ratios, not the absolute figures):
  A  raw os.write + os.fsync of a ~400-byte line on an O_APPEND file (per record)
  B  durable `store.traces.add` through the Python API          target >= 0.6x A
  C  `python -c "import click, pydantic, orjson, portalocker"` as a fresh process
  D  `lakehouse trace add` as a fresh process                    target <= 2.5x C
  E  one validated command (open the store, load heads from the latest checkpoint plus
     the records after it, update one trace) at 10,000 records of history, and F the same
     at --history records (default 1,000,000); both with 1,000 records after the
     checkpoint, durability="none" so the fsync does not drown the difference
                                                                 target F <= 1.5x E
Not a test: nothing runs it by default.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import orjson

from journal import Draft, Journal
from lakehouse import Store

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TAIL = 1000


def best(runs: int, work: Callable[[], float]) -> float:
    """The fastest of `runs` timings: on a shared machine noise only adds time."""
    return min(work() for _ in range(runs))


def raw_fsync(directory: Path, count: int) -> float:
    """Seconds per record of the raw write+fsync loop."""
    path = directory / "raw.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    line = b"\n" + b"x" * 400 + b"\n"
    start = perf_counter()
    for _ in range(count):
        os.write(fd, line)
        os.fsync(fd)
    elapsed = perf_counter() - start
    os.close(fd)
    path.unlink()
    return elapsed / count


def api_add(directory: Path, count: int) -> float:
    """Seconds per durable `store.traces.add` on a fresh store."""
    root = directory / "api"
    with Store.open(root, create=True) as store:
        store.traces.add(text="warm-up")
        start = perf_counter()
        for n in range(count):
            store.traces.add(text=f"trace {n}: the model answered after retrieval", tags=["a"])
        elapsed = perf_counter() - start
    shutil.rmtree(root)
    return elapsed / count


def process(command: list[str]) -> float:
    """Wall seconds of one fresh process."""
    start = perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return perf_counter() - start


def trace_drafts(first: int, count: int) -> list[Draft]:
    """Records exactly as `trace add` writes them, made directly to build history fast."""
    drafts = []
    for n in range(first, first + count):
        text = f"trace {n}: plan the ingest, validate the schema, load the table"
        digest = hashlib.sha256(orjson.dumps({"text": text})).hexdigest()
        payload = {"tags": ["bench"], "content_hash": digest, "text": text}
        drafts.append(Draft("trace.added", "trace", f"trc_{n:024d}", payload, 1))
    return drafts


def history_store(root: Path, records: int) -> list[str]:
    """A store with `records` trace records, a checkpoint, then TAIL more records."""
    with Journal.open(root, create=True, durability="none") as journal:
        for start in range(0, records - TAIL, 10_000):
            journal.append_many(trace_drafts(start, min(10_000, records - TAIL - start)))
    with Store.open(root) as store:
        store.checkpoint()
    with Journal.open(root, durability="none") as journal:
        journal.append_many(trace_drafts(records, TAIL))
    return [f"trc_{n:024d}" for n in range(0, records, max(1, records // 50))]


def one_command(root: Path, uids: list[str], runs: int) -> float:
    """Best seconds for: open the store, validate and append one update, close."""
    times = []
    for n in range(runs):
        uid = uids[n % len(uids)]
        start = perf_counter()
        with Store.open(root, durability="none") as store:
            store.traces.update(uid, text=f"updated {n}")
        times.append(perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO.parent)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, runs = (300, 3) if args.quick else (2000, 3)
    history = 100_000 if args.quick else args.history
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="command-bench-") as name:
        work = Path(name)
        a = best(runs, lambda: raw_fsync(work, count))
        b = best(runs, lambda: api_add(work, count))
        imports = [str(BIN / "python"), "-c", "import click, pydantic, orjson, portalocker"]
        c = best(10, lambda: process(imports))
        cli_store = work / "cli"
        Store.open(cli_store, create=True).close()
        verb = [str(BIN / "lakehouse"), "--store", str(cli_store), "trace", "add", "--text", "x"]
        d = best(10, lambda: process(verb))
        small, large = work / "small", work / "large"
        small_uids = history_store(small, 10_000)
        large_uids = history_store(large, history)
        e = one_command(small, small_uids, 30)
        f = one_command(large, large_uids, 30)
    rows = [
        ("A raw write+fsync per record", f"{1 / a:,.0f}/s", "", ""),
        ("B store.traces.add (durable)", f"{1 / b:,.0f}/s", f"{a / b:.2f}x A", ">=0.6x A"),
        ("C python -c 'import click, ...'", f"{c * 1000:.0f} ms", "", ""),
        ("D lakehouse trace add (process)", f"{d * 1000:.0f} ms", f"{d / c:.2f}x C", "<=2.5x C"),
        ("E one command, 10,000 history", f"{e * 1000:.2f} ms", "", ""),
        (
            f"F one command, {history:,} history",
            f"{f * 1000:.2f} ms",
            f"{f / e:.2f}x E",
            "<=1.5x E",
        ),
    ]
    verdicts = [a / b >= 0.6, d / c <= 2.5, f / e <= 1.5]
    print(f"{'row':<38}{'figure':>14}{'ratio':>10}  target")
    for name, figure, ratio, target in rows:
        print(f"{name:<38}{figure:>14}{ratio:>10}  {target}")
    print("targets:", ", ".join("PASS" if ok else "FAIL" for ok in verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
