"""`diagnose`: the quick doctor. Reads the store, takes no lock, writes nothing.

What it looks at, in order: who holds the store lock (the kernel's lock table, see
`_system.py`); whether the store sits on a network or FUSE filesystem (the mount table);
meta.json against the journal's tail; every record of every segment, archived ones too
(`Journal.scan`, ~300,000 records/s: the only way to count adjudicated fragments against
unexplained damage); each checkpoint's cheap check (manifest parses, every file has its
listed size) and its heads files hashed (what commands are validated against); stray
temp files and directories; each projection's watermark and lag, recorded errors and
dead letters (the tail after the checkpoint is folded only when it is short); each live
dataset's objects by size.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from journal import MAX_SKIP, META, Finding, MetaCheck, Severity
from lakehouse.doctor._context import Context
from lakehouse.doctor._disk import (
    check_checkpoints,
    check_objects,
    check_strays,
    check_unsafe,
)
from lakehouse.doctor._lag import FOLD_TAIL_UPTO, check_projections
from lakehouse.doctor._report import KEYS, Progress, Report, quiet
from lakehouse.doctor._system import LOCKS, MOUNTS, Mount, lock_holder, mount_of

# codes the journal's scan reports that the doctor reports itself, with a path to sweep
_OWN_CODES = frozenset({"stray_temp_file", "stray_file"})


def diagnose(
    root: str | os.PathLike[str],
    *,
    mounts: Path = MOUNTS,
    locks: Path = LOCKS,
    progress: Progress = quiet,
) -> Report:
    """The quick check of the store at `root`: one finding per thing worth knowing."""
    with Context(root, "quick", progress) as ctx:
        check_system(ctx, mounts=mounts, locks=locks)
        progress("reading every record...")
        check_journal(ctx)
        check_checkpoints(ctx, full=False)
        check_strays(ctx)
        check_unsafe(ctx)
        check_projections(ctx, fold_tail=True)
        check_objects(ctx, tail_limit=FOLD_TAIL_UPTO)
    return ctx.report


def check_system(ctx: Context, *, mounts: Path, locks: Path) -> None:
    """The lock holder and the filesystem under the store."""
    mount = mount_of(ctx.root, mounts)
    holder = _holder(ctx, mount, locks)
    if holder:
        pid = f" (pid {holder['pid']})" if holder.get("pid") else ""
        ctx.add(
            "info",
            "lock_held",
            f"the store lock is held by writer {holder.get('writer', '?')}{pid} "
            f"since {holder.get('since', '?')}",
            hint="a writer is at work: mutations wait for it (exit 6 after --lock-timeout); "
            "the doctor itself never takes the lock",
        )
    if mount is not None and mount.network:
        ctx.add(
            "warning",
            "network_filesystem",
            f"the store is on a {mount.fstype} filesystem ({mount.source} mounted at "
            f"{mount.point}): its locks, fsync and rename are not the local kernel's",
            hint="keep the store on a local disk; two hosts writing one store can lose records",
            path=mount.point,
        )


def _holder(ctx: Context, mount: Mount | None, locks: Path) -> dict[str, str] | None:
    """The lock holder from the kernel's lock table, or from the journal's probe.

    The table names a lock by device and inode, which overlayfs and network filesystems
    report differently from stat(); there the journal's probe (a non-blocking try of the
    lock, dropped at once) is the one reliable answer.
    """
    if mount is not None and (mount.network or mount.fstype == "overlay"):
        return _probe(ctx)
    try:
        return lock_holder(ctx.root, locks=locks)
    except LookupError:
        return _probe(ctx)


def _probe(ctx: Context) -> dict[str, str] | None:
    holder = ctx.store.journal.stats()["lock_holder"]
    return dict(holder) if holder is not None else None


def check_journal(ctx: Context) -> None:
    """Every record (parse, CRC, seq order, segment names), then meta.json against the head."""
    journal = ctx.store.journal
    scan = ctx.scan = journal.scan(archived=True)
    ctx.report.head_seq = scan.head_seq
    damage = duplicates = oversize = 0
    for finding in scan.findings:
        if finding.code in _OWN_CODES:
            continue
        damage += finding.severity == "error"
        duplicates += finding.code == "duplicate_seq"
        oversize += finding.code == "oversize_record"
        ctx.report.add(_journal_finding(finding))
    archived = len(journal.archived()[0])
    for name, value in (
        ("records", scan.records),
        ("segments", scan.segments),
        ("archived_segments", archived),
        ("bytes", scan.bytes),
        ("adjudicated_fragments", scan.adjudicated),
        ("unexplained_damage", damage),
        ("duplicate_seqs", duplicates),
        ("oversize_records", oversize),
    ):
        ctx.report.count(name, value)
    ctx.add(
        "info",
        "head_seq",
        f"head seq {scan.head_seq}: {scan.records:,} records in {scan.segments} segments "
        f"({archived} archived), {scan.bytes:,} bytes; {scan.adjudicated} torn writes "
        f"adjudicated (healthy), {damage} unexplained damage, {duplicates} duplicate seqs, "
        f"{oversize} oversize records",
    )
    _check_meta(ctx)


def _journal_finding(finding: Finding) -> Finding:
    """The scan's finding as the doctor's; a duplicate seq counts as damage (DESIGN §4).

    The reader applies both copies in file order and goes on, so for the journal it is
    an anomaly; but a reader that resumes after that seq misses the second copy, and the
    lock that should have made it impossible failed: the store is not sound.
    """
    severity: Severity = finding.severity
    message = finding.message
    if finding.code == "duplicate_seq":
        severity = "error"
        message += "; a reader that resumes after this seq misses the second copy"
    return replace(finding, severity=severity, message=message, keys=KEYS)


def _check_meta(ctx: Context) -> None:
    """meta.json is a cache: missing or lagging is normal after a kill; ahead is not."""
    meta = ctx.store.journal.check_meta(head=ctx.head)
    fix = "'lakehouse doctor --repair' rebuilds it (any writer also does, under the lock)"
    if meta.state == "missing":
        ctx.add("warning", "meta_missing", "journal/meta.json is missing", hint=fix, path=META)
    elif meta.state == "unreadable":
        ctx.add(
            "warning",
            "meta_unreadable",
            f"journal/meta.json cannot be read: {meta.error}",
            hint=fix,
            path=META,
        )
    elif meta.state == "no_next_seq":
        ctx.add(
            "warning", "meta_unreadable", "journal/meta.json has no next_seq", hint=fix, path=META
        )
    else:
        if meta.other_store is not None:
            ctx.add(
                "warning",
                "meta_store_id_mismatch",
                f"journal/meta.json names store {meta.store_id!r}, the journal.created "
                f"record {meta.other_store!r}: meta.json was copied from another store",
                hint=fix,
                path=META,
            )
        _meta_hint(ctx, meta, fix)


def _meta_hint(ctx: Context, meta: MetaCheck, fix: str) -> None:
    """The next_seq hint of a readable meta.json against the head."""
    hint, nxt = meta.next_seq, meta.expected
    if meta.state == "absurd":
        ctx.add(
            "warning",
            "meta_absurd",
            f"journal/meta.json says the next seq is {hint}, which no journal ending at seq "
            f"{ctx.head} handed out (more than {MAX_SKIP:,} ahead, or not a seq)",
            hint="the next writer ignores it, notes that (journal.seq_repaired) and rewrites "
            "it from the segments; " + fix,
            seq=nxt,
            path=META,
        )
    elif meta.state == "ahead" and hint is not None:
        ctx.add(
            "warning",
            "meta_ahead",
            f"journal/meta.json says the next seq is {hint}, but the journal ends at seq "
            f"{ctx.head}: records {nxt}..{hint - 1} were handed out and are not on disk",
            hint="the next writer skips those seqs and notes it (journal.seq_repaired); "
            "if they were acknowledged, restore the lost records from a backup",
            seq=nxt,
            path=META,
        )
    elif meta.state == "behind":
        ctx.add(
            "info",
            "meta_lagging",
            f"journal/meta.json is behind: it says next seq {hint} and lists {meta.listed} "
            f"segments; the journal's next seq is {nxt}, with {meta.live} segments",
            hint="normal after a kill: it is refreshed on roll and close; " + fix,
            path=META,
        )
