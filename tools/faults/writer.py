"""A child writer for fault tests: appends in a loop, printing each seq once it is durable.

Usage: python tools/faults/writer.py STORE [--name N] [--count N] [--batch-every K]
       [--segment-bytes B] [--start-file PATH] [--fsize-limit BYTES]

Each acknowledged record is printed as ``<seq> <name> <counter>`` after `append` (or
`append_many`) returned, i.e. after fsync: the parent may SIGKILL it at any moment and
then check that every printed seq survived. On a WriterStopped error it prints
``stopped <errno>`` and exits 3.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time

from journal import Draft, Journal, WriterStopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--name", default="w")
    parser.add_argument("--count", type=int, default=0, help="stop after N records (0: never)")
    parser.add_argument("--batch-every", type=int, default=0, help="every Kth append is a batch")
    parser.add_argument("--segment-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--start-file", help="wait until this file exists, then start")
    parser.add_argument("--fsize-limit", type=int, help="RLIMIT_FSIZE for this process")
    args = parser.parse_args()
    if args.fsize_limit is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize_limit, args.fsize_limit))
    if args.start_file:
        while not os.path.exists(args.start_file):
            time.sleep(0.001)
    journal = Journal.open(args.store, segment_bytes=args.segment_bytes)
    counter = 0
    try:
        while not args.count or counter < args.count:
            counter = _append(journal, args, counter)
    except WriterStopped as stopped:
        print(f"stopped {stopped.fields.get('errno')}", flush=True)
        return 3
    return 0


def _append(journal: Journal, args: argparse.Namespace, counter: int) -> int:
    payload = {"writer": args.name, "text": "x" * (counter % 97)}
    if args.batch_every and counter % args.batch_every == args.batch_every - 1:
        size = 2 + counter % 5
        drafts = [
            Draft("fault.appended", "writer", args.name, {**payload, "n": counter + i})
            for i in range(size)
        ]
        records = journal.append_many(drafts)
    else:
        records = [
            journal.append(
                kind="fault.appended",
                entity="writer",
                id=args.name,
                payload={**payload, "n": counter},
            )
        ]
    for record in records:
        print(record.seq, args.name, record.payload["n"], flush=True)
    return counter + len(records)


if __name__ == "__main__":
    sys.exit(main())
