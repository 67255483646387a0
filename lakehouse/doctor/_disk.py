"""Files beside the journal: checkpoints, leftovers of interrupted work, dataset objects.

A checkpoint gets the cheap check (its manifest parses and every listed file has its
listed size) plus its heads files hashed or, under --verify-journal, the full one (every
file hashed). Leftovers are
reported with the path `doctor --repair` would sweep: temp files of an interrupted
meta.json or cache write, the temp, pruned and replaced directories of interrupted
checkpoint writes, checkpoints set aside as invalid, a killed rebuild's resume points
and a killed verify's scratch directory. None of them is ever read by anyone.
"""

from __future__ import annotations

import os
from pathlib import Path

from checkpoints import Checkpoint, CheckpointStore, EntryKind
from journal import Finding, LakehouseError, file_sha256, is_temp_name, unsafe_entries
from lakehouse._bulk import SPILL
from lakehouse._rebuild import LEFTOVER as REBUILD
from lakehouse._snapshot import CHECKS, CRC32
from lakehouse.doctor._context import Context

SCRATCH = "doctor-"  # projections/cache/doctor-<pid>-<random>/: a verify's scratch
_REBUILD_HINT = (
    "'lakehouse projections rebuild' resumes from them (or a rebuild is running now); "
    "'lakehouse doctor --repair' finishes the rebuild, which removes them"
)


def check_checkpoints(ctx: Context, *, full: bool) -> None:
    """Each ``ckpt-*`` (cheap or full check), then every other entry of checkpoints/."""
    checkpoints = ctx.checkpoints = ctx.store.checkpoints.list()
    for checkpoint in checkpoints:
        found = checkpoint.verify() if full or checkpoint.manifest is None else cheap(checkpoint)
        for finding in found:
            _add_checkpoint_finding(ctx, finding)
            if finding.severity == "error":
                ctx.bad_checkpoints.add(checkpoint.name)
        if not full and checkpoint.name not in ctx.bad_checkpoints:
            check_heads(ctx, checkpoint)
    sound = [c for c in checkpoints if c.name not in ctx.bad_checkpoints]
    ctx.report.count("checkpoints", len(checkpoints))
    ctx.report.count("checkpoints_invalid", len(checkpoints) - len(sound))
    latest = f"; the latest sound one is {sound[-1].name}" if sound else ""
    ctx.add(
        "info",
        "checkpoints",
        f"{_plural(len(checkpoints), 'checkpoint')} "
        f"({'every file hashed' if full else 'sizes checked, heads hashed'}), "
        f"{len(checkpoints) - len(sound)} with errors{latest}",
    )
    for path, kind in ctx.store.checkpoints.others():
        _checkpoint_entry(ctx, path, kind)


def check_heads(ctx: Context, checkpoint: Checkpoint) -> None:
    """Hash a checkpoint's heads files against its manifest (the full check does all files).

    Commands trust nothing they have not verified, but each verifies only the shards it
    reads; this finds damage anywhere in the heads before a command trips on it. It costs
    a read of the heads files, which are small beside the tables and the journal.
    """
    if "heads" in checkpoint.meta and checkpoint.meta.get(CHECKS) != CRC32:
        ctx.add(
            "info",
            "heads_without_checksums",
            f"checkpoints/{checkpoint.name} predates per-shard checksums: a command that "
            "starts from it hashes each heads table it reads, in proportion to the heads",
            hint="'lakehouse checkpoint create' writes a checkpoint whose heads carry them",
            checkpoint=checkpoint.name,
        )
    for relpath in checkpoint.files:
        what = _heads_problem(checkpoint, relpath) if relpath.startswith("heads/") else None
        if what is None:
            continue
        ctx.bad_checkpoints.add(checkpoint.name)
        ctx.add(
            "error",
            "heads_damaged",
            f"checkpoints/{checkpoint.name}/{relpath} {what}: commands that read a damaged "
            "shard fold from an older checkpoint or genesis instead (and warn)",
            hint="derived data: 'lakehouse doctor --repair' sets the checkpoint aside and "
            "rebuilds the projections from the journal",
            checkpoint=checkpoint.name,
            path=f"checkpoints/{checkpoint.name}/{relpath}",
        )


def _heads_problem(checkpoint: Checkpoint, relpath: str) -> str | None:
    """What is wrong with one heads file of a checkpoint, or None."""
    listed = checkpoint.files[relpath]
    try:
        fd = os.open(checkpoint.path_of(relpath), os.O_RDONLY | os.O_CLOEXEC)
        try:
            found = file_sha256(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    return (
        None
        if found == (listed.sha256, listed.size)
        else "does not match the sha256 in its manifest"
    )


def cheap(checkpoint: Checkpoint) -> list[Finding]:
    """The cheap check with its reasons: every listed file is a regular file of its size."""
    return checkpoint.check(full=False)


def _add_checkpoint_finding(ctx: Context, finding: Finding) -> None:
    hint = finding.hint
    if finding.severity == "error":
        # readers check sizes, not hashes: a checkpoint with a flipped byte is still read
        read = "readers may read it" if finding.code == "sha_mismatch" else "readers skip it"
        hint = f"derived data ({read}): 'lakehouse doctor --repair' sets it aside and "
        hint += "rebuilds the projections from the journal"
    name = finding.checkpoint
    ctx.add(
        finding.severity,
        finding.code,
        f"checkpoints/{finding.message}",
        hint=hint,
        checkpoint=name,
        path=f"checkpoints/{name}/{finding.file}" if name and finding.file else None,
    )


def _checkpoint_entry(ctx: Context, path: Path, kind: EntryKind) -> None:
    """What an entry of checkpoints/ that is not a checkpoint is."""
    name = f"checkpoints/{path.name}"
    if kind == "stray":
        ctx.report.count("stray_temp")
        ctx.add(
            "warning",
            "stray_temp_dir",
            f"{name} is left from a checkpoint write or prune that did not finish",
            hint="no reader uses it: 'lakehouse doctor --repair' deletes it",
            path=name,
        )
    elif kind == "set_aside":
        ctx.add(
            "info",
            "set_aside_checkpoint",
            f"{name} is an invalid checkpoint set aside (kept for a look at what damaged it)",
            hint="nothing reads it; 'lakehouse doctor --repair' deletes it once it is old",
            path=name,
        )
    else:
        ctx.add(
            "warning",
            "unknown_entry",
            f"{name} is not a checkpoint",
            hint="move it out of checkpoints/",
            path=name,
        )


def check_strays(ctx: Context) -> None:
    """Temp files and directories that interrupted work left, and files out of place."""
    root = ctx.root
    journal = ctx.store.journal
    for path in journal.meta_temps():
        _temp_file(ctx, path, "a meta.json write that a killed writer left")
    strays = journal.segments()[1] + journal.archived()[1]
    unsafe = {f.path for f in ctx.report.findings if f.code == "unsafe_file"}
    for path in strays:
        if str(path.relative_to(root)) in unsafe:
            continue  # a symlink or special file: reported as such, an error
        ctx.add(
            "warning",
            "stray_file",
            f"{path.relative_to(root)} is not a segment",
            hint="move it out of the journal's directories (the doctor never deletes it)",
            path=str(path.relative_to(root)),
        )
    projections = root / "projections"
    for path in sorted(projections.rglob("*.tmp-*")) if projections.is_dir() else []:
        if is_temp_name(path.name):
            _temp_file(ctx, path, "a cache write that a killed process left")
    cache = projections / "cache"
    if (root / REBUILD).is_dir():
        points = CheckpointStore(root / REBUILD).seqs()
        ctx.report.count("stray_temp")
        ctx.add(
            "warning",
            "rebuild_leftover",
            f"{REBUILD}/ holds {len(points)} resume points of a rebuild that did not finish",
            hint=_REBUILD_HINT,
            path=REBUILD,
        )
    leftovers = {
        SCRATCH: "is the scratch directory of a verify that was killed (or is running now)",
        SPILL: "is where a rebuild that was killed (or is running now) spilled what did not "
        "fit in its memory budget",
    }
    for prefix, what in leftovers.items():
        for path in sorted(cache.glob(prefix + "*")) if cache.is_dir() else []:
            ctx.report.count("stray_temp")
            ctx.add(
                "warning",
                "stray_temp_dir",
                f"{path.relative_to(root)} {what}",
                hint="'lakehouse doctor --repair' deletes it once it is old",
                path=str(path.relative_to(root)),
            )


def check_unsafe(ctx: Context) -> None:
    """Every symlink or special file in the store outside the journal's own files.

    The journal's scan reports LOCK and journal/; this covers checkpoints/, objects/,
    projections/ and anything else under the root. Each is damage: nothing the store writes
    is ever one, and a write through one could land anywhere on the machine.
    """
    known = {f.path for f in ctx.report.findings if f.code == "unsafe_file"}
    for entry in _entries(ctx.root):
        if entry.name in ("LOCK", "journal"):
            continue
        for relpath, what in unsafe_entries(ctx.root, entry.name):
            if relpath in known:
                continue  # a checkpoint's own check named it already
            ctx.add(
                "error",
                "unsafe_file",
                f"{relpath} is {what}: the store holds only plain files and directories",
                hint=f"move {relpath} out of the store (or restore the real file from a "
                "backup); nothing in the store is written through it",
                path=relpath,
            )


def _temp_file(ctx: Context, path: Path, what: str) -> None:
    ctx.report.count("stray_temp")
    ctx.add(
        "warning",
        "stray_temp_file",
        f"{path.relative_to(ctx.root)} is {what}",
        hint="nothing reads it: 'lakehouse doctor --repair' deletes it",
        path=str(path.relative_to(ctx.root)),
    )


def _entries(directory: Path) -> list[Path]:
    try:
        return sorted(Path(entry.path) for entry in os.scandir(directory))
    except FileNotFoundError:
        return []


def check_objects(ctx: Context, *, tail_limit: int | None = None) -> None:
    """Each live dataset's object files exist with the size their record gives.

    The datasets come from the heads: the latest checkpoint plus the records after it.
    With `tail_limit`, a tail longer than that is not read (the quick check has read
    every record once already); the check is then left to --verify-journal.
    """
    if ctx.journal_damaged:
        return  # the heads cannot be read past the damage, which is the finding
    latest = ctx.store.checkpoints.latest_valid(at_most=ctx.head)
    tail = ctx.head - (latest.seq if latest is not None and "heads" in latest.meta else 0)
    if tail_limit is not None and tail > tail_limit:
        ctx.add(
            "info",
            "objects_unchecked",
            f"dataset objects not checked: that reads the {tail:,} records after the latest "
            "checkpoint",
            hint="'lakehouse doctor --verify-journal' checks them; a checkpoint makes it cheap",
        )
        return
    try:
        heads = ctx.store.heads()
    except (LakehouseError, OSError):
        return  # a damaged journal or checkpoint: the other checks report it
    for _, head in heads.all("dataset"):
        if head.get("dropped"):
            continue
        for entry in head.get("files") or []:
            _check_object(ctx, str(head.get("name")), entry)


def _check_object(ctx: Context, dataset: str, entry: dict[str, object]) -> None:
    relpath = str(entry.get("path"))
    try:
        size = (ctx.root / relpath).stat().st_size
    except OSError:
        size = None
    if size is None:
        ctx.add(
            "error",
            "object_missing",
            f"{relpath} of dataset {dataset} is missing",
            hint="restore objects/ from a backup (the journal names the file and its sha256)",
            entity=dataset,
            path=relpath,
        )
    elif size != entry.get("bytes"):
        ctx.add(
            "error",
            "object_size_mismatch",
            f"{relpath} of dataset {dataset} has {size} bytes, its record says "
            f"{entry.get('bytes')}",
            hint="restore objects/ from a backup (the journal names the file and its sha256)",
            entity=dataset,
            path=relpath,
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
