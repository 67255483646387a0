"""`lakehouse demo`: a guided run of the journal on a throw-away store."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from journal import Draft, Journal
from lakehouse.cli._common import examples, state

MARKER = ".lakehouse-demo"

# A writer process that appends until it is killed, printing each seq once it is durable.
_CHILD = """
import sys
from journal import Journal
journal = Journal.open(sys.argv[1])
n = 0
while True:
    n += 1
    record = journal.append(kind="trace.added", entity="trace", id=f"crash-{n}",
                            payload={"text": "written by a process about to be killed", "n": n})
    print(record.seq, flush=True)
"""


def _section(title: str) -> None:
    click.echo()
    click.secho(f"== {title}", bold=True)


@click.command()
@examples("""
lakehouse demo
lakehouse --store /tmp/lh-demo demo
""")
def demo() -> None:
    """Show the journal at work: appends, a killed writer, recovery, verification."""
    root = _fresh_store(state().store)
    _section(f"1. init: a new store at {root}")
    with Journal.open(root, create=True) as journal:
        (root / MARKER).write_text("created by `lakehouse demo`; safe to delete\n")
        click.echo(f"store_id {journal.store_id}; seq 1 is the journal.created record")
        _appends(journal)
    acked = _crash(root)
    _recover(root, acked)
    _verify(root)
    _section("next")
    click.echo(f"lakehouse --store {root} journal tail        # the latest records")
    click.echo(f"lakehouse --store {root} segments list       # the files behind them")


def _fresh_store(root: Path) -> Path:
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise click.UsageError(
                f"{root} holds a store the demo did not create; "
                "hint: pass --store to a new path, e.g. `lakehouse --store /tmp/lh-demo demo`"
            )
        shutil.rmtree(root)
    return root


def _appends(journal: Journal) -> None:
    _section("2. durable appends: each one is fsync'd before it returns")
    for n, text in enumerate(["plan the ingest", "validate the roster", "answer the query"], 1):
        started = time.perf_counter()
        record = journal.append(
            kind="trace.added", entity="trace", id=f"trc-{n}", payload={"text": text}, rev=1
        )
        took = (time.perf_counter() - started) * 1000
        click.echo(f"seq {record.seq}: {record.kind} {record.id} crc={record.crc} ({took:.2f} ms)")
    drafts = [
        Draft("session.recorded", "session", f"ses-{i}", {"attempts": i % 3, "ok": i % 4 != 0})
        for i in range(1000)
    ]
    started = time.perf_counter()
    records = journal.append_many(drafts)
    took = time.perf_counter() - started
    click.echo(
        f"a batch of {len(records)} records (seqs {records[0].seq}..{records[-1].seq}) in "
        f"{took * 1000:.1f} ms with one fsync: {len(records) / took:,.0f} records/s; "
        "a batch lands whole or not at all"
    )


def _crash(root: Path) -> list[int]:
    _section("3. a writer killed with SIGKILL in the middle of appending")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acked = [int(child.stdout.readline()) for _ in range(200)]
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate()
    acked += [int(line) for line in rest.split()]
    click.echo(f"the child was told 'ok' for {len(acked)} records, the last at seq {acked[-1]}")
    # a crash can also tear a write in half: add one by hand so recovery has work to do
    segment = sorted((root / "journal" / "segments").glob("*.jsonl"))[-1]
    with open(segment, "ab") as handle:
        handle.write(b'\n{"seq":999999,"ts":"2026-11-24T12:00:00Z","kind":"trace.ad')
    click.echo(f"and a torn half-record is left at the end of {segment.name}")
    return acked


def _recover(root: Path, acked: list[int]) -> None:
    _section("4. recovery: reopen, check, append")
    with Journal.open(root) as journal:
        reading = journal.read()
        present = {record.seq for record in reading}
        missing = sorted(set(acked) - present)
        click.echo(
            f"{len(present)} records present; acknowledged but missing: {len(missing)}; "
            f"torn tail skipped by readers: {reading.torn_tail is not None}"
        )
        record = journal.append(kind="trace.added", entity="trace", id="after", payload={})
        click.echo(f"the next append got seq {record.seq}, after the writer adjudicated the tail:")
        for note in journal.read(after=record.seq - 3):
            if note.kind.startswith("journal."):
                p = note.payload
                click.echo(
                    f"  seq {note.seq} {note.kind}: {p['segment']} bytes {p['start']}..{p['end']}"
                    f" verdict={p['verdict']} sha256={p['sha256'][:12]}..."
                )


def _verify(root: Path) -> None:
    _section("5. verify: every record's CRC and seq checked")
    with Journal.open(root) as journal:
        report = journal.scan()
        stats = journal.stats()
    click.echo(
        f"{'healthy' if report.healthy else 'DAMAGED'}: {report.records} records, "
        f"{report.adjudicated} adjudicated torn writes, "
        f"{sum(f.severity == 'error' for f in report.findings)} errors"
    )
    click.echo(
        f"head seq {stats['head_seq']}, {stats['segments']} segment(s), {stats['bytes']:,} bytes"
    )
