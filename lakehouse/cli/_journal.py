"""`lakehouse journal stats|tail|verify`: look at the journal itself."""

from __future__ import annotations

from typing import Any

import click
import orjson

from journal import Finding, Journal, Reading, Record
from lakehouse.clikit import (
    SEQ,
    IntRange,
    chosen_format,
    emit,
    examples,
    format_option,
    json_option,
    progress,
    state,
)
from projections import bare, csv_line


@click.group("journal", context_settings={"help_option_names": ["-h", "--help"]})
def journal_group() -> None:
    """Inspect the journal: statistics, the latest records, a full verification."""


@journal_group.command()
@json_option
@examples("""
lakehouse journal stats
lakehouse journal stats --json
""")
def stats() -> None:
    """Summarise the journal: head seq, segments, bytes, lock holder (reads no whole segment)."""
    with state().journal() as journal:
        info = journal.stats()
    emit(info, lambda: _print_stats(info))


def _print_stats(info: dict[str, Any]) -> None:
    holder = info["lock_holder"]
    rows = [
        ("store", info["store"]),
        ("store id", info["store_id"]),
        ("head seq", info["head_seq"]),
        ("oldest seq", info["oldest_seq"]),
        ("segments", f"{info['segments']} ({info['archived_segments']} archived)"),
        ("active segment", info["active_segment"]),
        ("bytes", f"{info['bytes']:,}"),
        ("meta next_seq hint", info["meta_next_seq"]),
        ("lock", f"held by {holder['writer']} since {holder['since']}" if holder else "free"),
    ]
    for name, value in rows:
        click.echo(f"{name:<20}{value}")
    for stray in info["stray_files"]:
        click.echo(f"warning: stray file in journal/segments: {stray}", err=True)


@journal_group.command()
@click.option("--after", type=SEQ, metavar="SEQ", help="Print records after this seq.")
@click.option("--limit", type=IntRange(min=1), metavar="N", help="At most N records.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing records as they are appended.")
@format_option()
@json_option
@examples("""
lakehouse journal tail                 # the last 10 records
lakehouse journal tail --after 100 --limit 5
lakehouse journal tail --follow --json # NDJSON, one record per line
""")
def tail(after: int | None, limit: int | None, follow: bool) -> None:
    """Print records after a seq (default: the last 10, or the last N), optionally following."""
    fmt = chosen_format()
    if fmt == "json" and follow:
        raise click.UsageError("--format json is one object, so it cannot --follow; use nl")
    with state().journal() as journal:
        if after is None:  # the last `limit` records (seqs are dense but for rare skips)
            after = max(0, (journal.head_seq or 0) - (limit or 10))
        reading = journal.read(after=after, limit=limit, on_damage="report")
        if fmt == "json":
            records = [record.to_dict() for record in reading]
            click.echo(orjson.dumps({"rows": records, "row_count": len(records)}).decode())
            _warn(reading)
            return
        if fmt == "csv":
            click.echo(csv_line(RECORD_COLUMNS, [True] * len(RECORD_COLUMNS)))
        cursor = _print_reading(reading, fmt)
        if follow:
            _follow(journal, cursor, fmt)


RECORD_COLUMNS = ["seq", "ts", "writer", "kind", "entity", "id", "rev", "payload"]


def _print_reading(reading: Reading, fmt: str) -> int:
    for record in reading:
        if fmt == "nl":
            click.echo(orjson.dumps(record.to_dict()).decode())
        elif fmt == "csv":
            values = [getattr(record, column) for column in RECORD_COLUMNS]
            click.echo(csv_line(values, [not bare(value) for value in values]))
        else:
            click.echo(_line(record))
    return _warn(reading)


def _warn(reading: Reading) -> int:
    """The findings and a gap of a reading, on stderr; its last seq."""
    for finding in reading.findings:
        click.echo(f"warning: {finding.message}", err=True)
    if reading.gap:
        click.echo(f"warning: records before seq {reading.first_seq} are archived (gap)", err=True)
    return reading.last_seq


def _line(record: Record) -> str:
    payload = orjson.dumps(record.payload).decode()
    if len(payload) > 80:
        payload = payload[:77] + "..."
    return (
        f"{record.seq:>8}  {record.ts}  {record.kind:<30} {record.entity}/{record.id}"
        f"  rev={record.rev}  {payload}"
    )


def _follow(journal: Journal, cursor: int, fmt: str) -> None:
    """Wait for the segments folder to change (watchfiles), then print what is new."""
    import watchfiles  # only --follow needs it

    try:
        # the timeout is a safety net only: a change normally wakes the loop at once
        for _ in watchfiles.watch(
            journal.segments_dir, yield_on_timeout=True, rust_timeout=2000, debounce=50
        ):
            cursor = _print_reading(journal.read(after=cursor, on_damage="report"), fmt)
    except KeyboardInterrupt:
        return


@journal_group.command()
@json_option
@examples("""
lakehouse journal verify
lakehouse journal verify --json | jq .findings
""")
def verify() -> None:
    """Read every record, check every CRC and seq; exit 7 if anything is damaged."""
    with state().journal() as journal:
        progress("verifying every record...")
        report = journal.scan()
    emit(report.to_dict(), lambda: _print_report(report.findings, report.to_dict()))
    if not report.healthy:
        click.get_current_context().exit(7)


def _print_report(findings: list[Finding], summary: dict[str, Any]) -> None:
    for finding in findings:
        where = ", ".join(
            f"{name} {value}"
            for name, value in (("segment", finding.segment), ("seq", finding.seq))
            if value is not None
        )
        at = f" ({where})" if where else ""
        click.echo(f"{finding.severity}: {finding.code}{at}: {finding.message}")
        if finding.hint:
            click.echo(f"  hint: {finding.hint}")
    verdict = "healthy" if summary["healthy"] else "DAMAGED"
    click.echo(
        f"{verdict}: {summary['records']} records in {summary['segments']} segments "
        f"({summary['bytes']:,} bytes), head seq {summary['head_seq']}, "
        f"{summary['adjudicated_fragments']} adjudicated torn writes, "
        f"{sum(f.severity == 'error' for f in findings)} errors"
    )
