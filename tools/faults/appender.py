"""A child writer for fault tests: appends in a loop, printing each record once it is durable.

Usage: python tools/faults/appender.py STORE [--name NAME] [--count N] [--batch-every K]
       [--pad BYTES] [--segment-bytes B] [--wait-stdin] [--fsize-limit BYTES]
       [--stop-at ROLL:KIND:PHASE [--then kill|hold]]

The journal is opened with durability="always". Records are ``fault.appended`` with
payload ``{"writer": NAME, "n": COUNTER, "pad": ...}``; COUNTER counts this child's
records from 0, and the pad is 3/4 BYTES to BYTES characters. Every Kth call is an
`append_many` of 2 to 5 records, the others are single `append` calls (big batches make
a write span many pages, so a SIGKILL can land in the middle of it).

Lines on stdout, each flushed:

    ready <writer-id>               the journal is open (with --wait-stdin: waiting for a line)
    ack <seq> <crc> <payload-json>  one per record, printed only after append returned
    at <point> <writer-id>          the --stop-at point was reached
    stopped <errno>                 an append raised WriterStopped (exit status 3) ...
    still-stopped                   ... and so did the next one, as a stopped writer must

--stop-at makes a kill land at an exact place. The child wraps os.fsync (the engine looks
it up at call time) and tells its calls apart by path: KIND is ``data`` (a segment),
``segdir`` (the segments directory, fsynced once per roll), ``metatmp`` (meta.json's
temp file) or ``journaldir`` (after the rename into meta.json). The point is the first
fsync of KIND once the ROLLth roll began (ROLL 0: from the start), PHASE ``before`` or
``after`` it runs. There the child SIGKILLs itself (--then kill), or sleeps forever
holding the store lock mid-append (--then hold).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time
from collections.abc import Callable

import orjson

from journal import Draft, Journal, Record, WriterStopped
from journal._record import writer_id  # the id the store lock and the records carry

KINDS = ("data", "segdir", "metatmp", "journaldir")


def main() -> int:
    args = _parser().parse_args()
    if args.fsize_limit is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize_limit, args.fsize_limit))
    if args.stop_at:
        _arm(args.stop_at, args.then)
    journal = Journal.open(args.store, durability="always", segment_bytes=args.segment_bytes)
    _say(f"ready {writer_id()}")
    if args.wait_stdin:
        sys.stdin.readline()
    counter = 0
    try:
        while not args.count or counter < args.count:
            for record in _append(journal, args, counter):
                _say(f"ack {record.seq} {record.crc} {orjson.dumps(record.payload).decode()}")
                counter += 1
    except WriterStopped as stopped:
        _say(f"stopped {stopped.fields.get('errno')}")
        try:
            _append(journal, args, counter)
        except WriterStopped:
            _say("still-stopped")
        return 3
    journal.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--name", default="w", help="the payload's writer name")
    parser.add_argument(
        "--count", type=int, default=0, help="stop after N records (0: never)"
    )  # a batch may overshoot
    parser.add_argument("--batch-every", type=int, default=0, help="every Kth call is a batch")
    parser.add_argument("--pad", type=int, default=200, help="the largest pad, in characters")
    parser.add_argument("--segment-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--wait-stdin", action="store_true", help="start on a line from stdin")
    parser.add_argument("--fsize-limit", type=int, help="RLIMIT_FSIZE for this process")
    parser.add_argument("--stop-at", metavar="ROLL:KIND:PHASE", help="see the module help")
    parser.add_argument("--then", choices=("kill", "hold"), default="kill")
    return parser


def _append(journal: Journal, args: argparse.Namespace, counter: int) -> list[Record]:
    name, every = args.name, args.batch_every

    def payload(n: int) -> dict[str, object]:
        return {"writer": name, "n": n, "pad": "x" * (args.pad - n * 7919 % (args.pad // 4 + 1))}

    if every and counter % every == every - 1:
        size = 2 + counter % 4
        drafts = [
            Draft("fault.appended", "writer", name, payload(counter + i)) for i in range(size)
        ]
        return journal.append_many(drafts)
    record = journal.append(
        kind="fault.appended", entity="writer", id=name, payload=payload(counter)
    )
    return [record]


def _arm(point: str, then: str) -> None:
    """Wrap os.fsync so that the child stops (dies or holds) at `point`."""
    roll_text, kind, phase = point.split(":")
    if kind not in KINDS or phase not in ("before", "after"):
        raise SystemExit(f"bad --stop-at {point!r}: KIND is one of {KINDS}, PHASE before|after")
    roll, rolls = int(roll_text), 0
    real: Callable[[int], None] = os.fsync

    def fsync(fd: int) -> None:
        nonlocal rolls
        seen = _kind(fd)
        rolls += seen == "segdir"
        hit = rolls == roll and seen == kind
        if hit and phase == "before":
            _stop(point, then)
        real(fd)
        if hit and phase == "after":
            _stop(point, then)

    os.fsync = fsync  # type: ignore[assignment]  # the engine passes plain fds


def _kind(fd: int) -> str:
    path = os.readlink(f"/proc/self/fd/{fd}")
    if path.endswith(".jsonl"):
        return "data"
    if path.endswith("/segments"):
        return "segdir"
    return "metatmp" if "/meta.json.tmp-" in path else "journaldir"


def _stop(point: str, then: str) -> None:
    _say(f"at {point} {writer_id()}")
    if then == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:  # hold: the store lock stays taken until the parent kills this process
        time.sleep(60)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
