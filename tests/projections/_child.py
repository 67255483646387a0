"""Child processes for tests/projections/test_processes.py, and the answers they check.

Run as ``python -m tests.projections._child ROLE STORE [options]`` from the repo root.
Each prints one line per event on stdout (flushed); a role that fails prints its
traceback on stderr and exits non-zero. Roles:

    reader STORE --min-reads N     open read models in a loop and check every answer
                                   against the journal up to the watermark; keep the
                                   previous models open and check them again after each
                                   open; stop after N reads once a line arrives on stdin
    writer STORE --ops M --seed S  wait for a line on stdin, then mutate, checkpoint,
                                   rebuild (replacing a checkpoint at the same seq), prune
                                   and archive, one line per operation
    hold STORE                     open read models, check them, print "holding", wait
                                   for a line, check the same models again and fresh ones
    stall STORE                    list the checkpoints, print "listed", wait for a line,
                                   then open the read models from that listing and check
    rebuild STORE --resume-every R [--kill-step K | --kill-seq J] [--record-by-record]
                                   rebuild everything; print each checkpoint `_step` and
                                   SIGKILL itself at the K-th step, or when the fold first
                                   feeds record seq J
    journal-reader STORE --min-reads N [--pause]
                                   read the journal from genesis (archived segments too) in
                                   a loop and check every record is there exactly once;
                                   with --pause, stop for a line on stdin inside the
                                   segment listing and at every segment boundary of the
                                   first read

The expected answers are computed from the raw journal records up to the watermark, never
from the projections, so a read model that mixes two checkpoints, misses the tail or
serves a seq it does not claim differs from them.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from journal import Journal, Record

Answers = dict[str, Any]

QUERIES = {
    "journal_stats": "SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM journal",
    "journal": "SELECT seq, kind, id, rev FROM journal ORDER BY seq",
    "traces": "SELECT uid, rev, retired, successor FROM traces ORDER BY uid",
    "trace_revisions": "SELECT seq, uid, rev, kind FROM trace_revisions ORDER BY seq",
    "trace_search": "SELECT uid, retired FROM trace_search ORDER BY uid",
    "playbooks": "SELECT id, rev, retired FROM playbooks ORDER BY id",
    "playbook_search": "SELECT id FROM playbook_search ORDER BY id",
}
# One `lakehouse sql` query: counts and order-free row hashes of the main read models.
CLI_QUERY = (
    "SELECT (SELECT count(*) FROM journal) AS records, (SELECT max(seq) FROM journal) AS w, "
    "(SELECT count(*) FROM traces) AS traces, "
    "(SELECT count(*) FROM traces WHERE retired) AS retired, "
    "(SELECT count(*) FROM trace_revisions) AS revisions, "
    "(SELECT count(*) FROM playbooks) AS playbooks, "
    "(SELECT sum(hash(uid, rev, retired, successor)::HUGEINT) FROM traces)::VARCHAR AS th, "
    "(SELECT sum(hash(id, rev, retired)::HUGEINT) FROM playbooks)::VARCHAR AS ph"
)
SEARCH_K = 5


def say(*parts: object) -> None:
    """Print one line to the parent, at once."""
    print(*parts, flush=True)


# -- what the read models must answer --------------------------------------------------


def expected(records: list[Record], w: int) -> Answers:
    """The answers to QUERIES at watermark `w`, from the records with seq <= `w`."""
    traces: dict[str, list[Any]] = {}
    playbooks: dict[str, list[Any]] = {}
    revisions = []
    for record in records[:w]:
        if record.entity == "trace":
            row = traces.setdefault(record.id, [record.id, 0, False, None])
            row[1] = record.rev
            row[2] = row[2] or record.kind == "trace.retired"
            if record.kind == "trace.superseded":
                row[3] = record.payload["successor"]
            revisions.append((record.seq, record.id, record.rev, record.kind))
        elif record.entity == "playbook":
            row = playbooks.setdefault(record.id, [record.id, 0, False])
            row[1] = record.rev
            row[2] = row[2] or record.kind == "playbook.retired"
    return {
        "journal_stats": [(w, 1, w, w)],
        "journal": [(r.seq, r.kind, r.id, r.rev) for r in records[:w]],
        "traces": sorted(tuple(row) for row in traces.values()),
        "trace_revisions": revisions,
        "trace_search": sorted((row[0], row[2]) for row in traces.values() if row[3] is None),
        "playbooks": sorted(tuple(row) for row in playbooks.values()),
        "playbook_search": sorted((row[0],) for row in playbooks.values() if not row[2]),
    }


def expected_cli(records: list[Record], w: int) -> dict[str, Any]:
    """The counts of CLI_QUERY at watermark `w` (the hashes are compared between runs)."""
    answers = expected(records, w)
    return {
        "records": w,
        "w": w,
        "traces": len(answers["traces"]),
        "retired": sum(1 for row in answers["traces"] if row[2]),
        "revisions": len(answers["trace_revisions"]),
        "playbooks": len(answers["playbooks"]),
    }


def answers(models: Any) -> Answers:
    """The answers of the read models `models` to QUERIES."""
    return {name: models.query(sql) for name, sql in QUERIES.items()}


def check(models: Any, records: list[Record], what: str, *, search: bool = True) -> Answers:
    """Check every answer of `models` (and a search) against the journal; return them."""
    w = models.seq
    want, got = expected(records, w), answers(models)
    wrong = [name for name in QUERIES if got[name] != want[name]]
    if wrong:
        raise AssertionError(f"{what} read models at watermark {w}: {_diff(got, want, wrong)}")
    if search:
        _check_search(models, want, what)
    return got


def _check_search(models: Any, want: Answers, what: str) -> None:
    """A trace search finds only live traces (neither retired nor superseded), K of them."""
    from lakehouse._search import search_rows

    live = {uid for uid, retired in want["trace_search"] if not retired}
    hits = [hit["uid"] for hit in search_rows(models, "trace_search", "traces", "trace", SEARCH_K)]
    if len(hits) != min(SEARCH_K, len(live)) or not set(hits) <= live:
        raise AssertionError(
            f"{what} search at watermark {models.seq}: hits {hits}, live {sorted(live)}"
        )


def _diff(got: Answers, want: Answers, wrong: list[str]) -> str:
    out = []
    for name in wrong:
        extra = [row for row in got[name] if row not in want[name]]
        missing = [row for row in want[name] if row not in got[name]]
        out.append(
            f"{name}: {len(got[name])} rows, expected {len(want[name])}; "
            f"unexpected {extra[:3]}, missing {missing[:3]}"
        )
    return "; ".join(out)


class History:
    """The journal's records from seq 1, read as far as asked (archived segments too)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.records: list[Record] = []

    def upto(self, w: int) -> list[Record]:
        """The records 1..w, checked to be exactly those seqs."""
        if len(self.records) < w:
            for record in self.journal.read(after=len(self.records), archived=True):
                if record.seq != len(self.records) + 1:
                    raise AssertionError(f"seq {record.seq} follows {len(self.records)}")
                self.records.append(record)
                if record.seq >= w:
                    break
        if len(self.records) < w:
            raise AssertionError(f"the journal ends at {len(self.records)}, before {w}")
        return self.records[:w]


def bases(models: Any) -> list[int]:
    """The seqs of the checkpoints the read models start from (0: genesis)."""
    return sorted({part.base_seq for part in models.parts.values()})


# -- roles ---------------------------------------------------------------------------------


def _stop_event() -> threading.Event:
    """Set once a line (or EOF) arrives on stdin."""
    stop = threading.Event()

    def wait() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait, daemon=True).start()
    return stop


def reader(path: Path, min_reads: int) -> int:
    """Open and check read models until stopped; hold each open across the next open."""
    from lakehouse import Store

    stop = _stop_event()
    store = Store.open(path)
    history = History(store.journal)
    held: Any = None
    reads = errors = 0
    while (reads < min_reads or not stop.is_set()) and errors < 3:
        models: Any = None
        try:
            models = store.read_models()
            check(models, history.upto(models.seq), "fresh")
            if held is not None:  # opened before the writer's last checkpoint, rebuild, prune
                check(held, history.upto(held.seq), "held")
            line = {"read": reads, "w": models.seq, "bases": bases(models)}
            line["held"] = None if held is None else held.seq
            say(orjson.dumps(line).decode())
        except Exception:
            errors += 1
            say(orjson.dumps({"read": reads, "error": traceback.format_exc()}).decode())
        if held is not None:
            held.close()
        held = models
        if reads == 0:
            say("ready")
        reads += 1
    if held is not None:
        held.close()
    store.close()
    return 0


WRITER_OPS = {  # operation: weight
    "add": 30,
    "update": 12,
    "revise": 5,
    "retire": 8,
    "playbook": 12,
    "playbook_retire": 4,
    "checkpoint": 7,
    "rebuild": 4,
    "replace": 6,  # a checkpoint, then a rebuild at the same seq: replace=True
    "prune": 5,
    "archive": 4,
}


def writer(path: Path, ops: int, seed: int) -> int:
    """Wait for a line on stdin, then run `ops` operations chosen by `seed`."""
    from lakehouse import Store

    rng = random.Random(seed)
    store = Store.open(path, checkpoint_every=0, segment_bytes=4096)
    names, weights = list(WRITER_OPS), list(WRITER_OPS.values())
    sys.stdin.readline()
    for n in range(ops):
        op = rng.choices(names, weights)[0]
        say(n, op, _operate(store, op, rng, n))
    store.close()
    return 0


def _operate(store: Any, op: str, rng: random.Random, n: int) -> object:
    """Run one writer operation; what it did, for the log."""
    traces = [head["uid"] for head in store.traces.list()]
    if op in ("update", "revise", "retire") and traces:
        uid = rng.choice(traces)
        if op == "retire":
            return store.traces.retire(uid, reason=f"r{n}").seq
        return getattr(store.traces, op)(uid, text=f"trace {n} {op}d").seq
    if op == "playbook":
        endorsed = rng.sample(traces, min(2, len(traces)))
        return store.playbooks.record(query=f"q{n}", endorsed=endorsed, target_count=2).seq
    playbooks = [head["id"] for head in store.playbooks.list()]
    if op == "playbook_retire" and playbooks:
        return store.playbooks.retire(rng.choice(playbooks)).seq
    if op in _MAINTENANCE:
        return _MAINTENANCE[op](store, rng)
    return store.traces.add(text=f"trace {n} added", tags=[f"t{n % 3}"]).seq


def _rebuild(store: Any) -> object:
    from lakehouse._rebuild import rebuild

    return rebuild(store, everything=True).to_dict()["seq"]


def _archive(store: Any) -> object:
    latest = store.checkpoints.latest_valid()
    if latest is None or latest.verify():  # the CLI archives only behind a verified one
        return None
    return [segment.name for segment in store.journal.archive(upto=latest.seq)]


_MAINTENANCE: dict[str, Callable[[Any, random.Random], object]] = {
    "checkpoint": lambda store, rng: store.checkpoint().seq,
    "rebuild": lambda store, rng: _rebuild(store),
    "replace": lambda store, rng: (store.checkpoint().seq, _rebuild(store)),
    "prune": lambda store, rng: [c.seq for c in store.checkpoints.prune(rng.choice([1, 2]))],
    "archive": lambda store, rng: _archive(store),
}


def hold(path: Path) -> int:
    """Check read models, wait while the parent replaces and prunes, check them again."""
    from lakehouse import Store

    with Store.open(path) as store:
        history = History(store.journal)
        models = store.read_models()
        before = check(models, history.upto(models.seq), "held", search=False)
        say("holding", models.seq, *bases(models))
        sys.stdin.readline()
        after = check(models, history.upto(models.seq), "held")  # the index is loaded now
        assert after == before, "the held read models changed their answers"
        models.close()
        fresh = store.read_models()
        check(fresh, history.upto(fresh.seq), "fresh")
        say("fresh", fresh.seq, *bases(fresh))
        fresh.close()
    return 0


def stall(path: Path) -> int:
    """Pause between listing the checkpoints and opening them, then open and check."""
    import lakehouse._readmodels as readmodels
    from lakehouse import Store

    original = readmodels.fold
    calls = 0

    def fold(store: Any, base: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            say("listed", base.seq if base is not None else 0)
            sys.stdin.readline()
        return original(store, base, *args, **kwargs)

    readmodels.fold = fold
    with Store.open(path) as store:
        models = store.read_models()
        check(models, History(store.journal).upto(models.seq), "stalled")
        say("opened", models.seq, calls, *bases(models))
        models.close()
    return 0


def rebuild_child(
    path: Path, resume_every: int, kill_step: int, kill_seq: int, *, bulk: bool
) -> int:
    """Rebuild everything, printing each step; SIGKILL at step `kill_step` or seq `kill_seq`."""
    import checkpoints._write as write
    from lakehouse import Store
    from lakehouse._rebuild import rebuild
    from projections import Changes

    steps = 0

    def step(name: str) -> None:
        nonlocal steps
        steps += 1
        say("step", steps, name)
        if steps == kill_step:
            _die(f"step {steps} {name}")

    feed = Changes.feed

    def feed_or_die(self: Changes, event: Any) -> None:
        if event.record.seq == kill_seq:
            _die(f"seq {kill_seq}")
        feed(self, event)

    write._step = step
    Changes.feed = feed_or_die  # type: ignore[method-assign]
    with Store.open(path, checkpoint_every=0) as store:
        report = rebuild(store, everything=True, resume_every=resume_every, bulk=bulk)
    say("done", orjson.dumps(report.to_dict()).decode())
    return 0


def _die(where: str) -> None:
    say("killed at", where)
    os.kill(os.getpid(), signal.SIGKILL)


def journal_reader(path: Path, min_reads: int, pause: bool) -> int:
    """Read from genesis in a loop; every read must give seqs 1..m exactly once, no findings."""
    stop = _stop_event() if not pause else None
    journal = Journal.open(path)
    if pause:
        _pause_listing()
    reads = 0
    while reads < min_reads or (stop is not None and not stop.is_set()):
        floor = journal.head_seq or 0  # every record up to here is durable: it must be read
        reading = journal.read(after=0, archived=True)
        archived = sum(1 for s in reading.segments if s.path.parent == journal.archive_dir)
        firsts = {segment.first_seq for segment in reading.segments[1:]}
        seqs = []
        for record in reading:
            if record.seq > 1 and record.payload.get("n") != record.seq - 2:
                raise AssertionError(f"seq {record.seq} holds {record.payload}")
            seqs.append(record.seq)
            if pause and reads == 0 and record.seq + 1 in firsts:
                say("boundary", record.seq)  # the parent archives, then sends a line
                sys.stdin.readline()
        if seqs != list(range(1, len(seqs) + 1)) or len(seqs) < floor or reading.findings:
            dups = len(seqs) - len(set(seqs))
            raise AssertionError(
                f"read {reads}: {len(seqs)} records (head {floor}), {dups} twice, first gap after "
                f"{_first_gap(seqs)}; findings {[f.to_dict() for f in reading.findings]}"
            )
        say(orjson.dumps({"read": reads, "records": len(seqs), "archived": archived}).decode())
        if reads == 0:
            say("ready")
        reads += 1
    journal.close()
    return 0


def _first_gap(seqs: list[int]) -> int | None:
    for index, seq in enumerate(seqs):
        if seq != index + 1:
            return index
    return None


def _pause_listing() -> None:
    """Stop once inside the reader's listing, between the archive and the live segments."""
    import journal._reader as reader_module

    original: Callable[..., Any] = reader_module.list_segments
    calls = 0

    def list_segments(directory: Path) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the archive was listed; the live segments are next
            say("listing")
            sys.stdin.readline()
        result = original(directory)
        say("listed", directory.name, calls)
        return result

    reader_module.list_segments = list_segments  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.projections._child")
    parser.add_argument("role")
    parser.add_argument("store", type=Path)
    parser.add_argument("--min-reads", type=int, default=1)
    parser.add_argument("--ops", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume-every", type=int, default=250_000)
    parser.add_argument("--kill-step", type=int, default=0)
    parser.add_argument("--kill-seq", type=int, default=0)
    parser.add_argument("--pause", action="store_true")
    parser.add_argument("--record-by-record", action="store_true")
    args = parser.parse_args()
    roles: dict[str, Callable[[], int]] = {
        "reader": lambda: reader(args.store, args.min_reads),
        "writer": lambda: writer(args.store, args.ops, args.seed),
        "hold": lambda: hold(args.store),
        "stall": lambda: stall(args.store),
        "rebuild": lambda: rebuild_child(
            args.store,
            args.resume_every,
            args.kill_step,
            args.kill_seq,
            bulk=not args.record_by_record,
        ),
        "journal-reader": lambda: journal_reader(args.store, args.min_reads, args.pause),
    }
    return roles[args.role]()


if __name__ == "__main__":
    sys.exit(main())
