"""The query endpoint's memory under wide results: peak RSS for one heavy query, and four.

Usage: .venv/bin/python tools/bench/sql_memory_bench.py [--dir PATH] [--sql TEXT]
       [--concurrent N] [-- SERVE OPTIONS...]

Starts `lakehouse serve --port 0` on a small store (one trace, checkpointed) as a child
process, twice: one run posts the query once, the other posts it N times at once (default
4). Each run prints the server's resident memory after starting (VmRSS) and its peak over
the run (VmHWM, the kernel's high-water mark, so no sampling can miss a spike), with the
status, the row count and the body size of every answer. The default query is the one of
the issue "Hostile files and hostile clients":

    SELECT [x for x in range(10000)] FROM range(100000)

a 10,000-element list per row, 8 GB of rows in all, against the server's 1 GB DuckDB
memory_limit. Options after `--` go to `lakehouse serve` (e.g. `--max-result-bytes`).
Not a test: nothing runs it by default (STYLE.md rule 16).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from time import perf_counter

import httpx

from lakehouse import Store

LAKEHOUSE = Path(sys.executable).with_name("lakehouse")
QUERY = "SELECT [x for x in range(10000)] FROM range(100000)"


def say(message: str) -> None:
    """Progress, on stderr."""
    print(f"sql_memory_bench: {message}", file=sys.stderr, flush=True)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of process `pid`, in MiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) // 1024
    return found


def serve(root: Path, options: list[str]) -> tuple[subprocess.Popen[str], str]:
    """`lakehouse serve --port 0` as a child; the child and its URL."""
    command = [str(LAKEHOUSE), "--store", str(root), "serve", "--port", "0", *options]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    line = child.stderr.readline()
    found = re.search(r"on (http://[^ ]+) ", line)
    if found is None:
        child.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    # drain stderr, or a chatty server blocks on a full pipe
    threading.Thread(target=child.stderr.read, daemon=True).start()
    return child, found.group(1)


def post(url: str, sql: str) -> str:
    """One query; its status, rows and body size as a short line."""
    started = perf_counter()
    with httpx.Client(base_url=url, timeout=120) as http:
        response = http.post("/v1/sql", json={"sql": sql})
    elapsed = perf_counter() - started
    body = response.json()
    if response.status_code == 200:
        data = body["data"]
        what = f"{data['row_count']} rows, truncated {data['truncated']}"
    else:
        what = f"{body['error']['code']}: {body['error']['message'][:80]}"
    return f"{response.status_code} in {elapsed:.2f} s, {len(response.content):,} bytes: {what}"


def run(root: Path, sql: str, concurrent: int, options: list[str]) -> None:
    """Serve, post `sql` `concurrent` times at once, print the memory figures."""
    child, url = serve(root, options)
    try:
        before = memory(child.pid)
        answers: list[str] = [""] * concurrent

        def one(slot: int) -> None:
            answers[slot] = post(url, sql)

        threads = [threading.Thread(target=one, args=(slot,)) for slot in range(concurrent)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = memory(child.pid)
        health = httpx.get(f"{url}/health", timeout=10).status_code
        print(
            f"{concurrent} at once: RSS after start {before['VmRSS']:,} MiB, "
            f"peak {after['VmHWM']:,} MiB (+{after['VmHWM'] - before['VmRSS']:,}), "
            f"RSS after {after['VmRSS']:,} MiB; /health {health}"
        )
        for answer in answers:
            print(f"    {answer}")
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    """Parse the arguments, build the store, run once and N at once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where the temp store goes")
    parser.add_argument("--sql", default=QUERY, help="the query to post")
    parser.add_argument("--concurrent", type=int, default=4, help="queries at once, run 2")
    parser.add_argument("serve", nargs="*", help="options for lakehouse serve (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        root = Path(work) / "store"
        with Store.open(root, create=True) as store:
            store.traces.add(text="a trace")
            store.checkpoint()
        say(f"query: {args.sql}")
        run(root, args.sql, 1, args.serve)
        run(root, args.sql, args.concurrent, args.serve)


if __name__ == "__main__":
    main()
