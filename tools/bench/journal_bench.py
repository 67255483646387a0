"""Journal benchmark: durable appends and CRC-checked reads against raw-I/O baselines.

Usage: .venv/bin/python tools/bench/journal_bench.py [--dir PATH] [--records N] [--quick]
       [--single N] [--batched N] [--repeats N] [--json]

Each journal figure is paired with a raw baseline measured in the same run, on the same
filesystem, over the very bytes the journal writes (the baselines replay the frames of a
sample store). Sections run --repeats times, interleaved, and each keeps its fastest run:
on a shared machine noise only adds time. Compare the ratios, not the absolute figures.
Not a test: nothing runs it by default (STYLE.md rule 16).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from itertools import count, cycle, islice
from pathlib import Path
from time import perf_counter
from typing import Any

import orjson

from journal import Draft, Journal

REPO = Path(__file__).resolve().parents[2]
BATCH = 1000  # records per append_many call and per raw batched write
POOL = 10 * BATCH  # distinct drafts, cycled through by every write section
FULL = {"records": 1_000_000, "single": 10_000, "batched": 300_000}
QUICK = {"records": 100_000, "single": 2_000, "batched": 20_000}
VOCABULARY = (
    "the model answered after retrieval with low confidence citing two sources latency "
    "budget exceeded on the tool call while the user asked about schema drift in ingest"
)
TAGS = ["eval", "prod", "retrieval", "agent", "regression", "latency", "cost", "safety"]
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TMPFS_WARNING = "fsync is free on tmpfs: the write figures mean nothing; pass --dir on a disk"


def make_drafts(total: int, seed: int = 7) -> list[Draft]:
    """Trace-like drafts: ~100 chars of text, three tags, a float score and an int.

    The text is ~100 rather than ~150 characters so that a whole record, envelope and
    framing included, is ~360 bytes: the size the throughput targets are stated for.
    """
    rng, words, drafts = random.Random(seed), VOCABULARY.split(), []
    for _ in range(total):
        text = " ".join(rng.choices(words, k=40))[: rng.randint(85, 115)].strip()
        payload = {
            "text": text,
            "tags": rng.sample(TAGS, 3),
            "score": round(rng.random(), 3),
            "tokens": rng.randint(50, 4000),
        }
        uid = "trc_" + "".join(rng.choices(ALPHABET, k=22))
        drafts.append(Draft("trace.added", "trace", uid, payload))
    return drafts


def filesystem_of(path: Path) -> dict[str, str]:
    """The device, mount point and type of the filesystem holding `path` (Linux /proc)."""
    real, best = str(path.resolve()), ("?", "", "unknown")
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                device, point, fstype = line.split()[:3]
                point = point.replace("\\040", " ")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best[1]):
                    best = (device, point, fstype)
    except OSError:
        pass
    return {"device": best[0], "mount": best[1], "type": best[2]}


def sample_frames(root: Path, drafts: list[Draft]) -> tuple[list[bytes], list[bytes]]:
    """The exact bytes the journal writes for `drafts`, appended one by one and in batches."""
    with Journal.open(root, create=True, durability="none") as journal:
        for draft in drafts:
            journal.append(**draft._asdict())
        for start in range(0, len(drafts), BATCH):
            journal.append_many(drafts[start : start + BATCH])
        (segment,), _ = journal.segments()
    lines = [line for line in segment.path.read_bytes().split(b"\n") if line]
    frames = [b"\n" + line + b"\n" for line in lines[1:]]  # [0] is the journal.created note
    shutil.rmtree(root)
    return frames[: len(drafts)], frames[len(drafts) :]


def expect(condition: bool, message: str) -> None:
    """Stop the run: a figure measured over the wrong work would be worse than none."""
    if not condition:
        raise SystemExit(f"journal_bench: invalid run: {message}")


def raw_writes(path: Path, chunks: list[bytes], writes: int) -> float:
    """Baselines A and B: `writes` os.write + os.fsync pairs on an O_APPEND file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        start = perf_counter()
        for chunk in islice(cycle(chunks), writes):
            if os.write(fd, chunk) != len(chunk):
                raise OSError("short write")
            os.fsync(fd)
        return perf_counter() - start
    finally:
        os.close(fd)
        path.unlink()


def journal_writes(
    root: Path, calls: list[Any], write: Callable[[Journal, Any], object], records: int
) -> float:
    """Seconds for `write(journal, call)` over `calls`, on a fresh store (durability=always)."""
    with Journal.open(root, create=True, durability="always") as journal:
        write(journal, calls[0])  # the first append recovers the tail: not timed
        head = journal.head_seq or 0
        start = perf_counter()
        for call in calls:
            write(journal, call)
        elapsed = perf_counter() - start
        expect(journal.head_seq == head + records, "the journal did not take every record")
    shutil.rmtree(root)
    return elapsed


def build_read_store(root: Path, drafts: list[Draft], records: int) -> Path:
    """A store whose one segment holds `records` records, journal.created included."""
    with Journal.open(root, create=True, durability="none", segment_bytes=1 << 40) as journal:
        left, pool = records - 1, cycle(drafts)
        while left > 0:
            journal.append_many(list(islice(pool, min(BATCH, left))))
            left -= BATCH
        journal.sync()  # flush now, so writeback does not run during the timed reads
        segments, _ = journal.segments()
    expect(len(segments) == 1, "the read store must be one segment")
    return segments[0].path


def raw_read(segment: Path, records: int, *, split: bool) -> float:
    """Baseline C: orjson.loads of each line, iterating the file or (C') splitting it whole."""
    loads, seen = orjson.loads, 0
    start = perf_counter()
    with open(segment, "rb") as file:
        for line in file.read().split(b"\n") if split else file:
            if len(line) > 1:  # skip the framing's blank lines: b"" (split) or b"\n" (iter)
                loads(line)
                seen += 1
    elapsed = perf_counter() - start
    expect(seen == records, f"raw read saw {seen} records, not {records}")
    return elapsed


def journal_read(root: Path, records: int) -> float:
    """Seconds for one sequential Journal.read() of every record, each CRC checked."""
    with Journal.open(root) as journal:
        seen = 0
        start = perf_counter()
        reading = journal.read()
        for _record in reading:
            seen += 1
        elapsed = perf_counter() - start
    expect(seen == records == reading.count, f"journal read saw {seen} records, not {records}")
    expect(not reading.findings, f"findings: {reading.findings}")
    return elapsed


def best_of(repeats: int, sections: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run every section `repeats` times, interleaved, and keep each one's fastest time."""
    times: dict[str, list[float]] = {name: [] for name in sections}
    for _ in range(repeats):
        for name, run in sections.items():
            times[name].append(run())
    return {name: min(values) for name, values in times.items()}


def row(
    name: str,
    records: int,
    seconds: float,
    base: dict[str, Any] | None = None,
    *,
    min_ratio: float = 0,
    min_rate: int = 0,
) -> dict[str, Any]:
    """One result line: rate, ratio to its baseline row, target and verdict."""
    rate = records / seconds
    ratio = rate / base["records_per_s"] if base else None
    target, ok = None, None
    if min_ratio and base and ratio is not None:
        target, ok = f">={min_ratio}x {base['name'].split()[0]}", ratio >= min_ratio
    elif min_rate:
        target, ok = f">={min_rate:,}/s", rate >= min_rate
    return {
        "name": name,
        "records": records,
        "seconds": round(seconds, 6),
        "records_per_s": round(rate),
        "baseline": base["name"] if base else None,
        "ratio": round(ratio, 3) if ratio is not None else None,
        "target": target,
        "result": None if ok is None else ("PASS" if ok else "FAIL"),
    }


def append_one(journal: Journal, kwargs: dict[str, Any]) -> object:
    """One Journal.append call (the single-record write of measure_writes)."""
    return journal.append(**kwargs)


def measure_writes(
    paths: Iterator[Path], drafts: list[Draft], counts: dict[str, int], repeats: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Rows A, journal.append, B, journal.append_many; and the mean frame sizes."""
    singles, batched = sample_frames(next(paths), drafts)
    n, calls = counts["single"], max(1, counts["batched"] // BATCH)
    many = calls * BATCH
    kwargs = [draft._asdict() for draft in islice(cycle(drafts), n)]
    batches = list(islice(cycle(drafts[i : i + BATCH] for i in range(0, POOL, BATCH)), calls))
    joined = [b"".join(batched[i : i + BATCH]) for i in range(0, POOL, BATCH)]
    sections: dict[str, Callable[[], float]] = {
        "A": lambda: raw_writes(next(paths), singles, n),
        "append": lambda: journal_writes(next(paths), kwargs, append_one, n),
        "B": lambda: raw_writes(next(paths), joined, calls),
        "append_many": lambda: journal_writes(next(paths), batches, Journal.append_many, many),
    }
    best = best_of(repeats, sections)
    a = row("A raw write+fsync", n, best["A"])
    b = row(f"B raw {BATCH}/write+fsync", many, best["B"])
    rows = [
        a,
        row("journal.append (always)", n, best["append"], a, min_ratio=0.8),
        b,
        row(f"journal.append_many x{BATCH}", many, best["append_many"], b, min_rate=300_000),
    ]
    return rows, {"single": mean_size(singles), "batch": mean_size(batched)}


def measure_reads(
    paths: Iterator[Path], drafts: list[Draft], n: int, repeats: int
) -> tuple[list[dict[str, Any]], float]:
    """Rows C, C', journal.read (over the faster C); and the mean record size read."""
    store = next(paths)
    segment = build_read_store(store, drafts, n)
    sections: dict[str, Callable[[], float]] = {
        "C": lambda: raw_read(segment, n, split=False),
        "C'": lambda: raw_read(segment, n, split=True),
        "read": lambda: journal_read(store, n),
    }
    best = best_of(repeats, sections)
    c = row("C raw read: for line in f", n, best["C"])
    c2 = row("C' raw read: read+split", n, best["C'"])
    fastest = max(c, c2, key=lambda item: item["records_per_s"])
    journal = row("journal.read (CRC checked)", n, best["read"], fastest, min_rate=300_000)
    return [c, c2, journal], round(segment.stat().st_size / n, 1)


def mean_size(frames: list[bytes]) -> float:
    """The mean length of `frames` in bytes."""
    return round(sum(map(len, frames)) / len(frames), 1)


def run(work: Path, counts: dict[str, int], repeats: int) -> dict[str, Any]:
    """Measure every section inside `work` and return the report."""
    paths = (work / f"run-{index}" for index in count())
    drafts = make_drafts(POOL)
    write_rows, sizes = measure_writes(paths, drafts, counts, repeats)
    read_rows, sizes["read_segment"] = measure_reads(paths, drafts, counts["records"], repeats)
    filesystem = filesystem_of(work)
    return {
        "filesystem": {"path": str(work), **filesystem},
        "warning": TMPFS_WARNING if filesystem["type"] in ("tmpfs", "ramfs") else None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeats": repeats,
        "statistic": "best",
        "record_bytes": sizes,
        "rows": write_rows + read_rows,
    }


def print_table(report: dict[str, Any]) -> None:
    """The report as a compact human-readable table."""
    fs, sizes = report["filesystem"], report["record_bytes"]
    print(f"filesystem: {fs['type']} ({fs['device']} on {fs['mount']}), dir {fs['path']}")
    if report["warning"]:
        print(f"WARNING: {report['warning']}")
    print(f"python {report['python']}, {report['cpus']} cpus, best of {report['repeats']} runs")
    print(
        f"mean record bytes, framing included: single {sizes['single']}, "
        f"batch {sizes['batch']}, read segment {sizes['read_segment']}"
    )
    print(
        f"{'name':<29}{'records':>10}{'seconds':>9}{'records/s':>12}  ratio     target       result"
    )
    for r in report["rows"]:
        ratio = f"{r['ratio']:.2f}x {r['baseline'].split()[0]}" if r["baseline"] else "-"
        print(
            f"{r['name']:<29}{r['records']:>10,}{r['seconds']:>9.3f}{r['records_per_s']:>12,}"
            f"  {ratio:<10}{r['target'] or '-':<13}{r['result'] or '-'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--dir", type=Path, help="where to make the temp dir (default: the repo's parent)")
    add("--records", type=int, help="records read (default 1,000,000; --quick 100,000)")
    add("--single", type=int, help="single appends (default 10,000; --quick 2,000)")
    add(
        "--batched", type=int, help="records in append_many calls (default 300,000; --quick 20,000)"
    )
    add("--repeats", type=int, default=3, help="runs per section; the fastest counts")
    add("--quick", action="store_true", help="small counts, for a smoke run")
    add("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args()
    defaults = QUICK if args.quick else FULL
    given = {key: getattr(args, key) for key in defaults}
    counts = {key: defaults[key] if value is None else value for key, value in given.items()}
    if min(counts.values()) < 1 or args.repeats < 1:
        parser.error("counts and --repeats must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=args.dir or REPO.parent))
    try:
        if filesystem_of(work)["type"] in ("tmpfs", "ramfs"):
            print(f"journal_bench: warning: {TMPFS_WARNING}", file=sys.stderr)
        report = run(work, counts, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
