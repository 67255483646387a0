"""Doctor benchmark: `doctor --verify-journal` against the rebuild it must not cost much more than.

Usage: .venv/bin/python tools/bench/doctor_bench.py [--dir PATH] [--records N] [--quick]
       [--repeats N]

One run builds a journal of --records records (default 1,000,000; --quick 100,000) across
the families, payloads shaped as the Python API writes them (tools/bench/projection_bench.py's
`History`), 64 MiB segments, checkpoints at 25%, 50%, 75% and at --records - 1,000, then
1,000 more records. Rows (compare the ratios, not the absolute figures):

  A  baseline: `rebuild(store, everything=True)`, the full rebuild of the projections
     alone (from genesis, resume points, the new checkpoint with its HNSW indexes)
  B  `verify(store)`, what `lakehouse doctor --verify-journal` runs: every record, every
     checkpoint file and sealed segment hashed, every projection folded from genesis and
     diffed against the latest checkpoint and the live read models    target <= 1.5x A
     (the note splits B into its steps, timed by its own progress messages)
  C  baseline: `Journal.scan(archived=True)`, every record parsed and CRC-checked
  D  `diagnose(store)`, what `lakehouse doctor` (quick) runs           target <= 1.5x C

Each heavy row runs in a fresh child process (the same imports for both), timed from just
before the call; the figure is the fastest of --repeats runs (default 1; rows C and D 3).
A's checkpoint is removed after each run, so every row sees the store as it was built.
Each run checks its own work: B and D must find the store healthy, A must write a
checkpoint at the head. Everything lives in one temp dir (default: the repo's parent, not
/tmp, which may be tmpfs), removed at the end. Not a test: nothing runs it by default.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import orjson

from journal import Journal
from lakehouse import Store

REPO = Path(__file__).resolve().parents[2]
TAIL = 1000  # records after the last checkpoint


def say(message: str) -> None:
    """Progress on stderr: the full run takes many minutes."""
    print(f"doctor_bench: {message}", file=sys.stderr, flush=True)


def expect(condition: bool, message: str) -> None:
    """Stop the run: a figure measured over the wrong work would be worse than none."""
    if not condition:
        raise SystemExit(f"doctor_bench: invalid run: {message}")


# -- building the store -------------------------------------------------------------------


def build(root: Path, records: int) -> None:
    """The journal, its checkpoints at 25/50/75% and at records - TAIL, then TAIL more."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from projection_bench import History, write  # the same realistic stream as row B there

    history = History(seed=7)
    stops = [records // 4, records // 2, records * 3 // 4, records - TAIL]
    for stop in stops:
        write(root, history, stop)
        say(f"  {stop:,} records written; checkpoint")
        with Store.open(root, checkpoint_every=0) as store:
            store.checkpoint()
    write(root, history, records)
    with Journal.open(root) as journal:
        expect(journal.head_seq == records, f"the head is {journal.head_seq}, not {records}")


# -- the children -------------------------------------------------------------------------


def child(mode: str, root: Path) -> dict[str, Any]:
    """In a fresh process: run one piece of work on the store, timed, and report it."""
    import lakehouse._rebuild
    import lakehouse.doctor  # noqa: F401

    steps: list[tuple[str, float]] = []

    def progress(message: str, *, transient: bool = False) -> None:
        if not transient:
            steps.append((message, perf_counter()))

    start = perf_counter()
    if mode == "rebuild":
        from lakehouse._rebuild import rebuild

        with Store.open(root, checkpoint_every=0) as store:
            made = rebuild(store, everything=True).checkpoint
            expect(made is not None and made.seq == store.journal.head_seq, "no checkpoint")
        out: dict[str, Any] = {"checkpoint": str(made.path) if made else ""}
    elif mode == "scan":
        with Journal.open(root) as journal:
            expect(journal.scan(archived=True).healthy, "the scan found damage")
        out = {}
    else:
        from lakehouse.doctor import diagnose, verify

        check = verify if mode == "verify" else diagnose
        report = check(root, progress=progress)
        expect(report.healthy, f"{mode} found {[f.code for f in report.errors]}")
        out = {"findings": len(report.findings)}
    end = perf_counter()
    marks = [("open the store, lock holder, mounts", start), *steps, ("end", end)]
    split = [(name, later - at) for (name, at), (_, later) in itertools.pairwise(marks)]
    return {**out, "seconds": end - start, "steps": split}


def run_child(mode: str, root: Path) -> dict[str, Any]:
    """Run this script as a fresh child in `mode`; its report."""
    command = [sys.executable, __file__, "--child", mode, "--store", str(root)]
    done = subprocess.run(command, capture_output=True, cwd=REPO, check=False)
    expect(done.returncode == 0, f"the {mode} child failed: {done.stderr.decode()[-2000:]}")
    report: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return report


def fastest(mode: str, root: Path, runs: int) -> dict[str, Any]:
    """The fastest of `runs` children; a rebuild's checkpoint is removed after each run."""
    reports = []
    for _ in range(runs):
        report = run_child(mode, root)
        if mode == "rebuild":
            shutil.rmtree(report["checkpoint"])
        reports.append(report)
    return min(reports, key=lambda report: report["seconds"])


# -- the run ------------------------------------------------------------------------------


def row(name: str, seconds: float, base: float | None, target: float | None) -> str:
    ratio = "" if base is None else f"{seconds / base:.2f}x"
    goal = "" if target is None else f"<= {target}x"
    verdict = (
        "" if base is None or target is None else ("PASS" if seconds / base <= target else "MISS")
    )
    return f"{name:<44}{seconds:>10.1f} s  {ratio:<8}{goal:<10}{verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO.parent)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--repeats", type=int, default=1, help="runs of rows A and B")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(orjson.dumps(child(args.child, args.store)).decode())
        return 0
    records = 100_000 if args.quick else args.records
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="doctor-bench-") as name:
        root = Path(name) / "store"
        say(f"building {records:,} records...")
        start = perf_counter()
        build(root, records)
        say(f"built in {perf_counter() - start:.0f} s; C: scan (also warms the page cache)")
        c = fastest("scan", root, 3)
        say("D: doctor (quick)")
        d = fastest("quick", root, 3)
        say("B: doctor --verify-journal")
        b = fastest("verify", root, args.repeats)
        say("A: rebuild(everything=True)")
        a = fastest("rebuild", root, args.repeats)
        size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    print(f"{records:,} records, store {size / 2**20:,.0f} MiB, in {args.dir}")
    print(f"{'row':<44}{'seconds':>12}  {'ratio':<8}{'target':<10}result")
    print(row("A rebuild(store, everything=True)", a["seconds"], None, None))
    print(row("B doctor --verify-journal", b["seconds"], a["seconds"], 1.5))
    print(row("C Journal.scan(archived=True)", c["seconds"], None, None))
    print(row("D doctor (quick)", d["seconds"], c["seconds"], 1.5))
    steps = ", ".join(f"{step.rstrip('.')} {sec:.1f} s" for step, sec in b["steps"] if sec >= 0.05)
    print(f"- B's steps: {steps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
