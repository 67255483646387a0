"""Query endpoint benchmark: point queries through HTTP against bare DuckDB, and freshness.

Usage: .venv/bin/python tools/bench/serve_bench.py [--dir PATH] [--records N] [--quick]
       [--seconds S] [--connections C] [--mutations M]

One run builds a journal of --records records (default 1,000,000; --quick 100,000) with
projection_bench's generator (payloads shaped as the families' APIs write them), with a
checkpoint 1,000 records before the head, and starts `lakehouse serve --port 0` on it as a
child process. Rows (compare the ratios, not the absolute figures):

  A   bare: `SELECT * FROM traces WHERE uid = ?` on the read models in this process
      (`store.read_models()`, the same DuckDB views and settings the server uses), C
      threads with a cursor each, for S seconds: queries/s, p50, p99
  A1  the same on one thread
  B   the same query through `POST /v1/sql` with the uid bound as a param: C threads, each
      with its own keep-alive connection (httpx), for S seconds   target >= 0.3x max(A, A1)
  C   freshness: a durable `store.traces.add` in this process (its return is the
      acknowledgement), then the wait until the record arrives on the server's
      /v1/journal/stream, which announces a record only once the read models reflect it;
      M mutations: p50, p99                                      target p99 <= 200 ms
      busy: writes 20-60 ms apart, faster than a refresh, so a write may wait for the
      refresh under way and then its own; idle: writes 150-250 ms apart
  C'  read-your-writes: the acknowledgement, then `GET /v1/traces/{uid}?min_seq=<seq>`
      answered with the trace: p50, p99 (the request refreshes by itself if it must)

Every answer is checked (one row, the uid asked for; the streamed seq is the one written),
or the run stops with no figures. The load generator is Python, so B includes its costs;
the machine's cores are shared by the generator, the server and DuckDB's threads.
Not a test: nothing runs it by default (STYLE.md rule 16).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from time import perf_counter, sleep
from typing import Any

import httpx
from projection_bench import TAIL, History, checkpoint, expect, row, write

from lakehouse import Store

REPO = Path(__file__).resolve().parents[2]
LAKEHOUSE = Path(sys.executable).with_name("lakehouse")
QUERY = "SELECT * FROM traces WHERE uid = ?"
WARMUP = 1.0  # seconds of each throughput row not counted


def say(message: str) -> None:
    """Progress, on stderr: the full run takes minutes."""
    print(f"serve_bench: {message}", file=sys.stderr, flush=True)


def percentile(seconds: list[float], share: float) -> float:
    """The `share` quantile, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def summary(seconds: list[float]) -> str:
    """p50 / p99 in milliseconds."""
    return f"p50 {percentile(seconds, 0.5):.2f} ms, p99 {percentile(seconds, 0.99):.2f} ms"


# -- the store and the server ------------------------------------------------------------


def build(root: Path, records: int) -> list[str]:
    """The journal, checkpointed TAIL records before its head; uids of checkpointed traces."""
    history = History(seed=7)
    say(f"building {records:,} records (checkpoint at {records - TAIL:,})")
    start = perf_counter()
    write(root, history, records - TAIL)
    checkpoint(root)
    settled = list(history.traces)
    write(root, history, records)
    say(f"built in {perf_counter() - start:.0f} s; {len(settled):,} traces in the checkpoint")
    return settled


class Server:
    """`lakehouse serve --port 0` as a child process; its URL from the line it prints."""

    def __init__(self, root: Path, queries: int) -> None:
        command = [str(LAKEHOUSE), "--store", str(root), "serve", "--port", "0"]
        command += ["--max-queries", str(queries)]
        self.child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        assert self.child.stderr is not None
        line = self.child.stderr.readline()
        found = re.search(r"on (http://[^ ]+) ", line)
        expect(found is not None, f"the server did not start: {line!r}")
        assert found is not None
        self.url = found.group(1)

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL)."""
        self.child.terminate()
        try:
            self.child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()
        if self.child.stderr is not None:
            self.child.stderr.close()


# -- throughput --------------------------------------------------------------------------


def hammer(
    threads: int, seconds: float, make: Callable[[], Callable[[str], None]], uids: list[str]
) -> tuple[float, list[float]]:
    """Run `threads` workers for `seconds` (after a warm-up); queries/s and each latency."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    counting, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            query, rng, mine = make(), random.Random(slot), latencies[slot]
            while not stop.is_set():
                uid = uids[rng.randrange(len(uids))]
                started = perf_counter()
                query(uid)
                if counting.is_set():
                    mine.append(perf_counter() - started)
        except BaseException as error:  # reported after the run: a figure over errors is void
            failures.append(error)
            stop.set()

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    sleep(WARMUP)
    counting.set()
    started = perf_counter()
    sleep(seconds)
    stop.set()
    elapsed = perf_counter() - started
    for worker in workers:
        worker.join()
    expect(not failures, f"a worker failed: {failures[:1]!r}")
    done = [latency for mine in latencies for latency in mine]
    return len(done) / elapsed, done


def bare(store: Store) -> Callable[[], Callable[[str], None]]:
    """Workers that query the in-process read models, a cursor each."""
    models = store.read_models()

    def make() -> Callable[[str], None]:
        cursor = models.cursor()

        def query(uid: str) -> None:
            rows = cursor.execute(QUERY, [uid]).fetchall()
            expect(len(rows) == 1 and rows[0][0] == uid, f"bare: {len(rows)} rows for {uid}")

        return query

    return make


def http(url: str) -> Callable[[], Callable[[str], None]]:
    """Workers that ask the server, a keep-alive connection each."""

    def make() -> Callable[[str], None]:
        client = httpx.Client(base_url=url, timeout=30)

        def query(uid: str) -> None:
            response = client.post("/v1/sql", json={"sql": QUERY, "params": [uid]})
            rows = response.json()["data"]["rows"] if response.status_code == 200 else []
            expect(
                len(rows) == 1 and rows[0][0] == uid,
                f"http {response.status_code}: {response.text[:200]}",
            )

        return query

    return make


# -- freshness ---------------------------------------------------------------------------


class Stream:
    """The server's event stream read in a thread: when each seq arrived."""

    def __init__(self, url: str, after: int) -> None:
        self.arrived: dict[int, float] = {}
        self.changed = threading.Condition()
        self.client = httpx.Client(base_url=url, timeout=None)
        self.thread = threading.Thread(target=self._read, args=(after,), daemon=True)
        self.thread.start()

    def _read(self, after: int) -> None:
        try:
            with self.client.stream("GET", "/v1/journal/stream", params={"after": after}) as events:
                for line in events.iter_lines():
                    if line.startswith("id: "):
                        with self.changed:
                            self.arrived[int(line[4:])] = perf_counter()
                            self.changed.notify_all()
        except httpx.HTTPError:
            return  # closed by `close`, or the server went away: `wait` reports what is missing

    def wait(self, seq: int, timeout: float = 10.0) -> float:
        """When `seq` arrived (waiting for it)."""
        with self.changed:
            found = self.changed.wait_for(lambda: seq in self.arrived, timeout)
        expect(found, f"seq {seq} never arrived on the stream")
        return self.arrived[seq]

    def close(self) -> None:
        """Drop the connection (the reading thread is a daemon)."""
        self.client.close()


BUSY = (0.02, 0.06)  # seconds between writes: faster than a refresh, so refreshes queue
IDLE = (0.15, 0.25)  # ... slower: each write finds the follower idle


def streamed_lags(
    store: Store, url: str, mutations: int, pause: tuple[float, float]
) -> list[float]:
    """Rows C: seconds from each acknowledgement to the record's event on the stream."""
    rng = random.Random(11)
    stream = Stream(url, store.journal.head_seq or 0)
    sleep(0.5)  # connected and idle
    lags: list[float] = []
    try:
        for i in range(mutations):
            outcome = store.traces.add(text=f"freshness probe {i} {rng.random()}")
            acked = perf_counter()
            assert outcome.seq is not None
            lags.append(stream.wait(outcome.seq) - acked)
            sleep(rng.uniform(*pause))
    finally:
        stream.close()
    return lags


def min_seq_reads(store: Store, url: str, mutations: int) -> list[float]:
    """Row C': seconds from each acknowledgement to the answer of a min_seq read."""
    rng = random.Random(13)
    answered: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(mutations):
            outcome = store.traces.add(text=f"read-your-writes probe {i} {rng.random()}")
            acked = perf_counter()
            response = client.get(f"/v1/traces/{outcome.id}", params={"min_seq": outcome.seq})
            answered.append(perf_counter() - acked)
            expect(response.status_code == 200, f"min_seq: {response.text[:200]}")
            expect(response.json()["data"]["uid"] == outcome.id, "min_seq: another trace")
            sleep(rng.uniform(*BUSY))
    return answered


# -- the run -----------------------------------------------------------------------------


def run(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every row."""
    root = work / "store"
    uids = random.Random(3).sample(build(root, args.records), 1000)
    rows: list[dict[str, Any]] = []
    with Store.open(root, checkpoint_every=0) as store:
        make = bare(store)
        say(f"A: bare DuckDB, {args.connections} threads and 1, {args.seconds:g} s each")
        a_rate, a_times = hammer(args.connections, args.seconds, make, uids)
        a1_rate, a1_times = hammer(1, args.seconds, make, uids)
        server = Server(root, max(8, 2 * args.connections))
        try:
            say(f"B: HTTP on {server.url}, {args.connections} connections, {args.seconds:g} s")
            b_rate, b_times = hammer(args.connections, args.seconds, http(server.url), uids)
            say(f"C: freshness, {args.mutations} mutations busy, idle, and read with min_seq")
            busy = streamed_lags(store, server.url, args.mutations, BUSY)
            idle = streamed_lags(store, server.url, args.mutations, IDLE)
            answered = min_seq_reads(store, server.url, args.mutations)
        finally:
            server.stop()
    ratio = b_rate / max(a_rate, a1_rate)
    c = args.connections
    rows += [
        row(f"A  bare, {c} threads", f"{a_rate:,.0f} q/s"),
        row("A1 bare, 1 thread", f"{a1_rate:,.0f} q/s"),
        row(
            f"B  HTTP, {c} connections",
            f"{b_rate:,.0f} q/s",
            ratio=ratio,
            unit="x A",
            target=">=0.3x",
            ok=ratio >= 0.3,
        ),
        *fresh("C  busy: ack -> streamed", busy),
        *fresh("C  idle: ack -> streamed", idle),
        row("C' ack -> min_seq read, p99", f"{percentile(answered, 0.99):.1f} ms"),
        row("C' ack -> min_seq read, p50", f"{percentile(answered, 0.5):.1f} ms"),
    ]
    rows.append(
        {"note": f"A latency {summary(a_times)}; A1 {summary(a1_times)}; B {summary(b_times)}"}
    )
    return rows


def fresh(name: str, lags: list[float]) -> list[dict[str, Any]]:
    """The p99 row (with its target) and the p50 row of a freshness run."""
    p99 = percentile(lags, 0.99)
    return [
        row(f"{name}, p99", f"{p99:.1f} ms", target="<=200ms", ok=p99 <= 200),
        row(f"{name}, p50", f"{percentile(lags, 0.5):.1f} ms"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--dir", type=Path, help="where to make the temp dir (default: the repo's parent)")
    add("--records", type=int, help="records of the journal (default 1,000,000)")
    add("--seconds", type=float, help="seconds of each throughput row (default 10; quick 3)")
    add("--connections", type=int, default=4, help="concurrent connections / threads")
    add("--mutations", type=int, help="mutations of rows C and C' (default 200; quick 50)")
    add("--quick", action="store_true", help="100,000 records, 3 s rows, 50 mutations")
    args = parser.parse_args()
    args.records = args.records or (100_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.mutations = args.mutations or (50 if args.quick else 200)
    if args.records < 10 * TAIL or args.connections < 1 or args.mutations < 1:
        parser.error(f"--records must be at least {10 * TAIL:,}; the others at least 1")
    work = Path(tempfile.mkdtemp(prefix="serve-bench-", dir=args.dir or REPO.parent))
    start, load = perf_counter(), os.getloadavg()
    try:
        rows = run(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.records:,} records")
    print(
        f"load average at start {load[0]:.2f}, at end {os.getloadavg()[0]:.2f}; "
        f"{perf_counter() - start:.0f} s in all"
    )
    print(f"{'row':<34}{'figure':>14}  {'ratio':<10}{'target':<10}result")
    for r in rows:
        if "note" in r:
            print(f"- {r['note']}")
        else:
            print(
                f"{r['name']:<34}{r['figure']:>14}  {r['ratio']:<10}{r['target']:<10}{r['result']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
