"""`lakehouse demo`: a guided tour of the four families and the journal, on a throw-away store.

Every step runs in-process through the Python API (fast), after printing the CLI command
that does the same, so the reader learns the CLI. pyarrow is imported only by the
ingest itself: importing this module stays cheap (tests/test_architecture.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from journal import Journal
from lakehouse._errors import CommandError
from lakehouse.cli._demo_data import sessions, write_other_schema_csv, write_staffing_csv
from lakehouse.cli._demo_out import command as _command
from lakehouse.cli._demo_out import program
from lakehouse.cli._demo_out import quote as _quote
from lakehouse.cli._demo_out import section as _section
from lakehouse.cli._demo_read import read_models_tour
from lakehouse.cli._demo_store import DEMO_STORE, fresh_store, mark
from lakehouse.clikit import describe, examples, print_rows, state

if TYPE_CHECKING:
    from lakehouse._store import Store

CRASH_TAG = "crash-test"

# A writer process that adds traces until it is killed, printing each one once it is durable.
_CHILD = """
import sys
from lakehouse import Store
store = Store.open(sys.argv[1])
n = 0
while True:
    n += 1
    outcome = store.traces.add(text=f"written by a writer about to be killed ({n})",
                               tags=[sys.argv[2]])
    print(outcome.seq, outcome.id, flush=True)
"""


@click.command()
@click.option("--rows", type=click.IntRange(min=100), default=100_000, hidden=True)
@examples("""
lakehouse demo
lakehouse --store /tmp/lh-demo demo
""")
def demo(rows: int) -> None:
    """Tour the store: datasets, traces, sessions, playbooks, a killed writer, a checkpoint."""
    from lakehouse._store import Store

    if state().json:
        raise click.UsageError("the demo prints for people; run it without --json")
    started = time.perf_counter()
    root = fresh_store(state().store if state().explicit_store else Path(DEMO_STORE))
    click.echo(f"lakehouse demo on {root} (a throw-away store, re-created on every run)")
    click.echo(f"to run the commands shown yourself: export LAKEHOUSE_STORE={_quote(root)}")
    with Store.open(root, create=True) as store:
        _init(store)
        _datasets(store, rows)
        traces = _traces(store)
        _sessions_and_playbooks(store)
    acked = _crash(root)
    with Store.open(root) as store:
        mark(store)  # the child writer's records are the demo's too
        _recover(store, acked)
        read_models_tour(store, int(traces.pop("first_seq")))
        _summary(store, traces, started)


# -- output helpers ------------------------------------------------------------------------


def _refused(step: Callable[[], object], store: Store) -> CommandError:
    """Run a step that must be refused; print its error as the CLI would, and prove no append."""
    before = store.journal.head_seq
    try:
        step()
    except CommandError as error:
        click.echo(f"error: {error.message}")
        if error.hint:
            click.echo(f"hint: {error.hint}")
        after = store.journal.head_seq
        click.echo(f"(exit code {error.exit_code}; head seq {before} -> {after}: nothing appended)")
        return error
    raise AssertionError("the demo expected this step to be refused")


# -- 1. init -------------------------------------------------------------------------------


def _init(store: Store) -> None:
    _section("1. init: a new store")
    _command("init")
    mark(store)
    click.echo(
        f"initialised store at {store.root} (store_id {store.journal.store_id}, "
        f"head seq {store.journal.head_seq})"
    )


# -- 2. datasets ---------------------------------------------------------------------------


def _datasets(store: Store, rows: int) -> None:
    _section(f"2. datasets: a {rows:,}-row CSV in, a content-addressed Parquet object out")
    inputs = store.root / "demo-input"
    csv_path = inputs / "staffing.csv"
    size = write_staffing_csv(csv_path, rows)
    click.echo(
        f"wrote {csv_path}: {rows:,} rows, {size / 1e6:.1f} MB "
        "(columns id, name, role, city, hourly_rate, start_date, active, notes;"
        " some notes quoted with commas, a few spanning lines)"
    )
    import pyarrow.csv  # noqa: F401  (loaded before the clock starts: time the ingest alone)

    _command("dataset", "ingest", "staffing", csv_path)
    started = time.perf_counter()
    outcome = store.datasets.ingest("staffing", csv_path)
    took = time.perf_counter() - started
    click.echo(f"{describe(outcome)}: {rows:,} rows in {took:.2f} s ({size / 1e6 / took:.0f} MB/s)")
    _show_dataset(store)
    _command("dataset", "ingest", "staffing", csv_path, note="the same file again")
    again = store.datasets.ingest("staffing", csv_path)
    click.echo(f"{describe(again)} (same fingerprint, same object: idempotent)")
    other = inputs / "other-schema.csv"
    write_other_schema_csv(other)
    _command("dataset", "ingest", "staffing", other, note="columns id, name, team")
    _refused(lambda: store.datasets.ingest("staffing", other), store)


def _show_dataset(store: Store) -> None:
    _command("dataset", "show", "staffing")
    head = store.datasets.show("staffing")
    schema = ", ".join(f"{column['name']} {column['type']}" for column in head["schema"])
    obj = head["files"][0]
    for key, value in (
        ("schema", schema),
        ("rows", f"{head['rows']:,}"),
        ("fingerprint", f"{head['fingerprint']}  (sha256 of the column names and types)"),
        ("dataset_id", f"{head['dataset_id']}  (uuid5 of the name)"),
        ("object", f"{obj['path']}  ({obj['bytes'] / 1e6:.1f} MB)"),
        ("rev, seq", f"{head['rev']}, {head['seq']}"),
    ):
        click.echo(f"{key:<13}{value}")


# -- 3. traces -----------------------------------------------------------------------------


def _traces(store: Store) -> dict[str, str]:
    """Add, update (and a stale update refused), revise twice, retire; returns the uids."""
    _section("3. traces: a versioned memory of reasoning steps")
    uids = {}
    for name, text, tag in (
        ("plan", "plan the ingest: CSV to Parquet", "etl"),
        ("validate", "validate the roster before answering", "validation"),
        ("scratch", "try the query against last week's roster", "scratch"),
    ):
        _command("trace", "add", "--text", text, "--tag", tag)
        outcome = store.traces.add(text=text, tags=[tag])
        click.echo(describe(outcome))
        uids[name] = outcome.id
        uids.setdefault("first_seq", str(outcome.seq))
    plan = uids["plan"]
    text = "plan the ingest: CSV to Parquet, then check the row count"
    _command("trace", "update", plan, "--text", text, "--if-rev", 1)
    click.echo(describe(store.traces.update(plan, text=text, if_rev=1)))
    stale = "plan the ingest (an edit made from a stale read)"
    _command("trace", "update", plan, "--text", stale, "--if-rev", 1, note="rev 1 is stale now")
    _refused(lambda: store.traces.update(plan, text=stale, if_rev=1), store)
    uids["validate"] = _revisions(store, uids["validate"])
    _command("trace", "retire", uids["scratch"], "--reason", "an experiment")
    click.echo(describe(store.traces.retire(uids["scratch"], reason="an experiment")))
    _command("trace", "list")
    heads = store.traces.list()
    print_rows(
        [{**head, "body": head["text"]} for head in heads],
        ["uid", "rev", "tags", "retired", "body"],
        empty="no traces",
    )
    return uids


def _revisions(store: Store, uid: str) -> str:
    """Revise `uid` twice and print the history chain; returns the newest uid."""
    for text in (
        "validate the roster: every name must exist and be active",
        "validate the roster: names must exist, be active and match the city",
    ):
        _command("trace", "revise", uid, "--text", text)
        outcome = store.traces.revise(uid, text=text)
        click.echo(f"{describe(outcome)} (predecessor {uid})")
        uid = outcome.id
    _command("trace", "history", uid)
    found = store.traces.history(uid)
    for depth, head in enumerate(found["chain"]):
        status = "retired" if head["retired"] else "current" if depth == 0 else "superseded"
        click.echo(f"{'  ' * depth}{head['uid']}  rev {head['rev']}  {status}  {head['text']}")
    click.echo(f"(a chain of {len(found['chain'])}, {len(found['problems'])} problems)")
    return uid


# -- 4. sessions and playbooks -------------------------------------------------------------


def _sessions_and_playbooks(store: Store) -> None:
    _section("4. sessions and playbooks: what the coordinator did, and what worked")
    for session in sessions():
        path = store.root / "demo-input" / f"{session['id']}.json"
        path.write_bytes(orjson.dumps(session, option=orjson.OPT_INDENT_2))
        note = f"outcome {session['outcome']}, {len(session['attempts'])} attempts"
        _command("session", "record", path, note=note)
        click.echo(describe(store.sessions.record(session)))
    _command("session", "list")
    rows = [{**head, "attempts": len(head["attempts"])} for head in store.sessions.list()]
    print_rows(rows, ["id", "model", "outcome", "attempts", "created_seq"], empty="no sessions")
    roster = store.datasets.show("staffing")["fingerprint"][:16]
    query = "staff the Lisbon ETL project: 2 data engineers"
    names = ["Ada Lovelace", "Radia Perlman"]
    fill = ("--target-count", 2, "--kind", "fill", "--fingerprint", roster)
    _command("playbook", "record", "--query", query, "--endorsed", ",".join(names), *fill)
    click.echo(
        describe(
            store.playbooks.record(
                query=query, endorsed=names, target_count=2, fingerprint=roster, kind="fill"
            )
        )
    )
    many = [*names, "Grace Hopper", "Ken Thompson", "Barbara Liskov"]
    _command("playbook", "record", "--query", query, "--endorsed", ",".join(many), *fill)
    _refused(
        lambda: store.playbooks.record(
            query=query, endorsed=many, target_count=2, fingerprint=roster, kind="fill"
        ),
        store,
    )
    _command("playbook", "list")
    columns = ["id", "rev", "kind", "target_count", "endorsed", "retired", "query"]
    print_rows(store.playbooks.list(), columns, empty="no playbooks")


# -- 5. a killed writer, and recovery ------------------------------------------------------


def _crash(root: Path) -> list[tuple[int, str]]:
    _section("5. a writer killed with SIGKILL in the middle of adding traces")
    click.echo(f"a child process adds traces tagged {CRASH_TAG} in a loop, as fast as it can")
    click.echo("(what `lakehouse trace add` runs); after its 200th 'ok' it gets SIGKILL")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), CRASH_TAG], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acked = [_ack(child.stdout.readline()) for _ in range(200)]
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate()
    acked += [_ack(line) for line in rest.splitlines() if line.strip()]
    click.echo(f"the child was told 'ok' for {len(acked)} traces, the last at seq {acked[-1][0]}")
    # a kill can also tear a write in half: add one by hand so recovery has work to do
    with Journal.open(root) as journal:
        segment = journal.segments()[0][-1].path
    with open(segment, "ab") as handle:
        handle.write(b'\n{"seq":999999,"ts":"2026-11-24T12:00:00Z","kind":"trace.ad')
    click.echo(f"and a torn half-record is left at the end of {segment.name}")
    return acked


def _ack(line: str) -> tuple[int, str]:
    if not line:
        raise click.ClickException("the writer child exited before it was killed (see above)")
    seq, uid = line.split()
    return int(seq), uid


def _recover(store: Store, acked: list[tuple[int, str]]) -> None:
    _section("6. recovery: reopen, check, append, verify")
    journal = store.journal
    reading = journal.read()
    present = {record.seq for record in reading}
    lost = [seq for seq, _ in acked if seq not in present]
    _command("trace", "list", "--tag", CRASH_TAG)
    listed = {head["uid"] for head in store.traces.list(tag=CRASH_TAG)}
    missing = [uid for _, uid in acked if uid not in listed]
    click.echo(
        f"{len(listed)} traces tagged {CRASH_TAG}; acknowledged records lost: {len(lost)}; "
        f"acknowledged traces missing: {len(missing)}; "
        f"torn tail skipped by readers: {reading.torn_tail is not None}"
    )
    if len(listed) > len(acked):
        click.echo(
            f"({len(listed) - len(acked)} more landed whole before the kill but were never "
            "acknowledged: kept, as a whole record is never dropped)"
        )
    _command("trace", "add", "--text", "added after the crash", "--tag", CRASH_TAG)
    outcome = store.traces.add(text="added after the crash", tags=[CRASH_TAG])
    click.echo(describe(outcome))
    click.echo("before it, the writer adjudicated the torn tail (it was never acknowledged):")
    for note in journal.read(after=(outcome.seq or 1) - 3):
        if note.kind == "journal.fragment_adjudicated":
            p = note.payload
            click.echo(
                f"  seq {note.seq} {note.kind}: {p['segment']} bytes {p['start']}..{p['end']}"
                f" verdict={p['verdict']} sha256={p['sha256'][:12]}..."
            )
    _command("journal", "verify")
    report = journal.scan().to_dict()
    click.echo(
        f"{'healthy' if report['healthy'] else 'DAMAGED'}: {report['records']} records in "
        f"{report['segments']} segments ({report['bytes']:,} bytes), head seq "
        f"{report['head_seq']}, {report['adjudicated_fragments']} adjudicated torn writes, "
        f"{sum(f['severity'] == 'error' for f in report['findings'])} errors"
    )


# -- 7. checkpoint and summary -------------------------------------------------------------


def _summary(store: Store, uids: dict[str, str], started: float) -> None:
    from checkpoints import CheckpointStore

    _section("8. a checkpoint, and where things stand")
    _command("checkpoint", "create")
    made = store.checkpoint()
    click.echo(f"checkpoint at seq {made.seq}: {made.path} ({len(made.files)} files)")
    _command("checkpoint", "verify")
    errors = [f for f in CheckpointStore(store.root).scan() if f.severity == "error"]
    click.echo("checkpoints healthy" if not errors else f"DAMAGED: {len(errors)} errors")
    by_family = Counter(record.entity for record in store.journal.read())
    traces = store.traces.list()
    crash = sum(CRASH_TAG in head["tags"] for head in traces)
    retired = len(store.traces.list(include_retired=True)) - len(traces)
    facts: list[tuple[str, Any]] = [
        ("head seq", store.journal.head_seq),
        ("records", ", ".join(f"{name} {count}" for name, count in sorted(by_family.items()))),
        ("datasets", len(store.datasets.list())),
        (
            "traces",
            f"{len(traces) - crash} current + {crash} tagged {CRASH_TAG}, {retired} retired",
        ),
        ("sessions", len(store.sessions.list())),
        ("playbooks", len(store.playbooks.list())),
        ("checkpoint", f"seq {made.seq}"),
        ("demo took", f"{time.perf_counter() - started:.1f} s"),
    ]
    click.echo()
    for key, value in facts:
        click.echo(f"{key:<12}{value}")
    _section("explore further")
    lakehouse = program()
    if lakehouse != "lakehouse":
        venv = Path(sys.executable).parent / "activate"
        click.echo(f"(`lakehouse` is not on PATH here: `source {_quote(venv)}` puts it there)")
    click.echo(f"export LAKEHOUSE_STORE={_quote(store.root)}")
    for line in (
        "dataset show staffing",
        "trace list --include-retired",
        f"trace history {uids['validate']}",
        "session show ses-demo-0002",
        "playbook list",
        'sql "SELECT role, count(*) FROM staffing GROUP BY role"',
        'trace search "validate the roster"',
        "projections status",
        "journal tail",
        "checkpoint list",
        "journal verify",
    ):
        click.echo(f"{lakehouse} {line}")
