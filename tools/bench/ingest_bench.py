"""Ingest benchmark: CSV to content-addressed Parquet against DuckDB's own read_csv + COPY.

Usage: .venv/bin/python tools/bench/ingest_bench.py [--dir PATH] [--mb N] [--repeats N]
       [--quick] [--json]

Generates a staffing-style CSV (~100 MB: ints, names, roles, cities, floats, dates, bools,
and notes with quoted commas, doubled quotes and a few multi-line fields), then times:

  D   DuckDB: COPY (SELECT * FROM read_csv(file)) TO 'x.parquet' (the baseline: the
      reader whose answers ingest gives, writing Parquet itself, on every core; no fsync)
  A   pyarrow.csv.read_csv (configured as near DuckDB's rules as it goes: the empty field
      NULL, Yes/No booleans, slash dates) + pyarrow.parquet.write_table; for reference
  B   lakehouse.catalog.read_table + write_object (the Python API's whole-file read, then
      the write: temp, fsync, sha256, rename, directory fsync); for reference, as it
      cannot overlap reading with writing
  C   lakehouse.catalog.ingest_file (streamed: DuckDB's Arrow batches, Parquet row groups
      written as they come); target >= 0.8x D

It also reads a small file of awkward cases (leading zeros, NA, empty fields, slash
dates, mixed UTC offsets, Yes/No, an int beyond BIGINT) with DuckDB, with configured
pyarrow and with ingest, and prints which columns' types or values differ from DuckDB's:
the faster reader is only worth having if it agrees.

Each section runs --repeats times, interleaved, on a fresh store, and the fastest run
counts: on a shared machine noise only adds time, so compare the ratios. Each run checks
its work (row counts equal the file's, B and C land on the same object path every time).
Not a test: nothing runs it by default (STYLE.md rule 16).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from itertools import count
from pathlib import Path
from time import perf_counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from lakehouse.catalog import ingest_file, read_table, write_object

REPO = Path(__file__).resolve().parents[2]
FIRST = "Ana Ben Chloe Dmitri Elif Femi Gus Hana Ivan Jun Kofi Lena Mateo Nia Omar Pia"
LAST = "Okafor Silva Novak Tanaka Müller Haddad Kowalski Nguyen Ortiz Schmidt Rossi"
ROLES = ["nurse", "welder", "forklift operator", "line cook", "data analyst", "electrician"]
CITIES = ["Lisbon", "Austin", "Osaka", "Lagos", "Kraków", "Toronto", "São Paulo"]
WORDS = "reliable punctual certified night shift weekend available bilingual license CPR"
HEADER = "id,name,role,city,hourly_rate,start_date,active,notes\n"
TARGET = 0.8
AWKWARD = (
    "zip,code,n,name,day,ts,ok,big\n"
    "00123,NA,1,Ana,2012/01/01,2024-01-01 10:00:00+01:00,Yes,9223372036854775808\n"
    "00456,7,NA,,2012/02/03,2024-01-02 11:00:00-05:00,No,1\n"
    ',8,3,"",2012/12/31,2024-01-03 12:00:00+00:00,Yes,2\n'
)


def make_csv(path: Path, megabytes: int, seed: int = 7) -> int:
    """Write a staffing CSV of about `megabytes` MB; return its row count."""
    rng, start, limit = random.Random(seed), datetime.date(2015, 1, 1), megabytes * 1_000_000
    first, last, words = FIRST.split(), LAST.split(), WORDS.split()
    rows = size = 0
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        while size < limit:
            rows += 1
            notes, roll = " ".join(rng.choices(words, k=rng.randint(3, 12))), rng.random()
            if roll < 0.2:  # a quoted comma
                notes = f'"{notes}, {rng.choice(words)}"'
            elif roll < 0.201:  # a multi-line field with doubled quotes
                notes = f'"{notes}\nsecond line, with ""quotes"""'
            day = start + datetime.timedelta(days=rng.randint(0, 3650))
            line = (
                f"{rows},{rng.choice(first)} {rng.choice(last)},{rng.choice(ROLES)},"
                f"{rng.choice(CITIES)},{rng.randint(1500, 9000) / 100},{day},"
                f"{rng.choice(['true', 'false'])},{notes}\n"
            )
            file.write(line)
            size += len(line)
    return rows


def expect(condition: bool, message: str) -> None:
    """Stop the run: a figure measured over the wrong work would be worse than none."""
    if not condition:
        raise SystemExit(f"ingest_bench: invalid run: {message}")


def duckdb_copy(csv: Path, out: Path, rows: int) -> float:
    """D: DuckDB's read_csv, written by its own Parquet writer (COPY), on every core."""
    con = duckdb.connect()
    start = perf_counter()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' (FORMAT parquet)")
    elapsed = perf_counter() - start
    written = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchall()[0][0]
    con.close()
    expect(written == rows, f"D wrote {written} rows, not {rows}")
    out.unlink()
    return elapsed


def pyarrow_read(csv: Path) -> pa.Table:
    """pyarrow's CSV reader told DuckDB's rules where it has an option for them."""
    return pa_csv.read_csv(
        csv,
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            true_values=["true", "True", "TRUE", "Yes", "yes", "YES", "t", "T"],
            false_values=["false", "False", "FALSE", "No", "no", "NO", "f", "F"],
            timestamp_parsers=[pa_csv.ISO8601, "%Y/%m/%d"],
        ),
    )


def baseline(csv: Path, out: Path, rows: int) -> float:
    """A: configured pyarrow read_csv + write_table."""
    start = perf_counter()
    table = pyarrow_read(csv)
    pq.write_table(table, out)
    elapsed = perf_counter() - start
    expect(table.num_rows == rows, f"A read {table.num_rows} rows, not {rows}")
    out.unlink()
    return elapsed


def disagreements(work: Path) -> dict[str, list[str]]:
    """The columns of AWKWARD whose types or values differ from DuckDB's read_csv, per reader."""
    csv = work / "awkward.csv"
    csv.write_text(AWKWARD)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    want = con.sql(f"SELECT * FROM read_csv('{csv}')").to_arrow_table()
    store = work / "store-awkward"
    store.mkdir()
    info = ingest_file(store, "awkward", csv)
    got = {"pyarrow": pyarrow_read(csv), "ingest": pq.read_table(store / info.path)}
    out: dict[str, list[str]] = {}
    for reader, table in got.items():
        out[reader] = [
            name
            for name in want.column_names
            if want.column(name).type != table.column(name).type
            or want.column(name).to_pylist() != table.column(name).to_pylist()
        ]
    shutil.rmtree(store)
    return out


def ours(csv: Path, store: Path, rows: int, paths: set[str], *, streamed: bool) -> float:
    """B (read_table + write_object) or C (ingest_file), on a fresh store."""
    store.mkdir()
    start = perf_counter()
    if streamed:
        info = ingest_file(store, "staff", csv)
    else:
        table, _ = read_table(csv)
        info = write_object(store, "staff", table)
    elapsed = perf_counter() - start
    expect(info.rows == rows, f"{info.rows} rows written, not {rows}")
    expect(info.created and (store / info.path).is_file(), "no object was written")
    paths.add(info.path)
    expect(len(paths) == 1, f"the same CSV gave different objects: {sorted(paths)}")
    shutil.rmtree(store)
    return elapsed


def best_of(repeats: int, sections: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run every section `repeats` times, interleaved, and keep each one's fastest time."""
    times: dict[str, list[float]] = {name: [] for name in sections}
    for _ in range(repeats):
        for name, run_section in sections.items():
            times[name].append(run_section())
    return {name: min(values) for name, values in times.items()}


def run(work: Path, megabytes: int, repeats: int) -> dict[str, Any]:
    """Generate the CSV inside `work`, time A, B and C, and return the report."""
    csv = work / "staff.csv"
    rows = make_csv(csv, megabytes)
    size = csv.stat().st_size
    stores, paths = (work / f"store-{index}" for index in count()), set[str]()
    sections: dict[str, Callable[[], float]] = {
        "D": lambda: duckdb_copy(csv, work / "d.parquet", rows),
        "A": lambda: baseline(csv, work / "a.parquet", rows),
        "B": lambda: ours(csv, next(stores), rows, paths, streamed=False),
        "C": lambda: ours(csv, next(stores), rows, paths, streamed=True),
    }
    best = best_of(repeats, sections)
    names = {
        "D": "D duckdb read_csv+COPY",
        "A": "A pyarrow read+write",
        "B": "B read_table+write_object",
        "C": "C ingest_file (streamed)",
    }
    report_rows = []
    for key, name in names.items():
        ratio = best["D"] / best[key]
        verdict = "PASS" if ratio >= TARGET else "FAIL"
        report_rows.append(
            {
                "name": name,
                "seconds": round(best[key], 4),
                "mb_per_s": round(size / 1e6 / best[key], 1),
                "ratio_to_D": round(ratio, 3),
                "target": f">={TARGET}x D" if key == "C" else None,
                "result": verdict if key == "C" else None,
            }
        )
    return {
        "dir": str(work),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "csv_bytes": size,
        "csv_rows": rows,
        "repeats": repeats,
        "statistic": "best",
        "object": next(iter(paths)),
        "rows": report_rows,
        "columns_differing_from_read_csv": disagreements(work),
    }


def print_table(report: dict[str, Any]) -> None:
    """The report as a compact human-readable table."""
    print(f"dir {report['dir']}; python {report['python']}, {report['cpus']} cpus")
    print(
        f"CSV: {report['csv_bytes'] / 1e6:.1f} MB, {report['csv_rows']:,} rows; "
        f"best of {report['repeats']} runs"
    )
    print(f"{'name':<28}{'seconds':>9}{'MB/s':>9}  {'ratio':<8}{'target':<10}result")
    for r in report["rows"]:
        print(
            f"{r['name']:<28}{r['seconds']:>9.3f}{r['mb_per_s']:>9.1f}  "
            f"{r['ratio_to_D']:<8.2f}{r['target'] or '-':<10}{r['result'] or '-'}"
        )
    print("columns of the awkward-cases file that differ from DuckDB's read_csv:")
    for reader, columns in report["columns_differing_from_read_csv"].items():
        print(f"  {reader:<8} {', '.join(columns) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--dir", type=Path, help="where to make the temp dir (default: the repo's parent)")
    add("--mb", type=int, help="CSV size in MB (default 100; --quick 20)")
    add("--repeats", type=int, default=3, help="runs per section; the fastest counts")
    add("--quick", action="store_true", help="a 20 MB CSV, for a smoke run")
    add("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args()
    megabytes = args.mb or (20 if args.quick else 100)
    if megabytes < 1 or args.repeats < 1:
        parser.error("--mb and --repeats must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-", dir=args.dir or REPO.parent))
    try:
        report = run(work, megabytes, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
