"""Idle sockets against the query endpoint: does /health answer, and what does it cost?

Usage: .venv/bin/python tools/bench/serve_flood_bench.py [--sockets N] [--seconds S]
       [--dir PATH] [-- SERVE OPTIONS...]

Starts `lakehouse serve --port 0` on a one-trace store as a child process, then opens
--sockets connections (default 20,300, the issue's count) that never send a byte, from
child processes of 10,000 each (one process may not hold them all). After 6 s and again
after --seconds (default 30) it prints the server's open descriptors, three /health
answers from fresh connections (status and time) and the size of the server's log. Before
the connection guard the server reached its descriptor limit, /health timed out and the
log grew by tens of megabytes; see tools/bench/README.md. Not a test (STYLE.md rule 16).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from lakehouse import Store

LAKEHOUSE = Path(sys.executable).with_name("lakehouse")
PER_PROCESS = 10_000
HOLDER = """
import socket, sys, time
port, count, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(count):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=30))
    except OSError as error:
        print(f"connect failed after {len(held)}: {error}", flush=True)
        break
time.sleep(hold)
"""


def health(url: str) -> str:
    """Three /health requests on fresh connections: their statuses and the time taken."""
    started = time.monotonic()
    try:
        statuses = [httpx.get(f"{url}/health", timeout=5).status_code for _ in range(3)]
    except httpx.HTTPError as error:
        return f"{type(error).__name__} after {time.monotonic() - started:.2f} s"
    return f"{statuses} in {time.monotonic() - started:.2f} s"


def report(when: str, pid: int, url: str, log: Path) -> None:
    """One line: descriptors, /health, log size."""
    descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    answered = health(url)
    print(f"{when}: {descriptors:,} descriptors open; /health {answered}; ", end="")
    print(f"log {log.stat().st_size:,} bytes", flush=True)


def run(root: Path, sockets: int, seconds: float, options: list[str]) -> None:
    """Serve, flood, report twice, stop everything."""
    log = root.parent / "serve.log"
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [str(LAKEHOUSE), "--store", str(root), "serve", "--port", "0", *options],
            stderr=stderr,
        )
    holders: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"on (http://[^ ]+) ", log.read_text())):
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {log.read_text()}")
            time.sleep(0.05)
        url = found.group(1)
        port = url.rsplit(":", 1)[1]
        for first in range(0, sockets, PER_PROCESS):
            count = str(min(PER_PROCESS, sockets - first))
            command = [sys.executable, "-c", HOLDER, port, count, str(seconds + 15)]
            holders.append(subprocess.Popen(command))
        time.sleep(6)
        report("after 6 s", child.pid, url, log)
        time.sleep(max(0.0, seconds - 6))
        report(f"after {seconds:g} s", child.pid, url, log)
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
        child.terminate()
        child.wait(timeout=30)
    lines = log.read_text(errors="replace").splitlines()
    print("the server's log, first lines:", *lines[:6], sep="\n    ")


def main() -> None:
    """Parse the arguments, build the store, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=20_300, help="idle sockets to open")
    parser.add_argument("--seconds", type=float, default=30.0, help="when to report again")
    parser.add_argument("--dir", type=Path, default=None, help="where the temp store goes")
    parser.add_argument("serve", nargs="*", help="options for lakehouse serve (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        root = Path(work) / "store"
        with Store.open(root, create=True) as store:
            store.traces.add(text="a trace")
        run(root, args.sockets, args.seconds, args.serve)


if __name__ == "__main__":
    main()
