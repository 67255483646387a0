"""`repair`: what `doctor --repair` may do, which is never to rewrite history.

No segment is ever edited, truncated, renamed or deleted: a damaged journal stays as it
is, reported, for a backup to fix. What is derived or left over is fair game, and every
action is announced before any is done:

- ``writer_recovery``: take the store lock as any writer does; the writer's own recovery
  runs (a torn tail is adjudicated by a note, seqs meta.json reserved are noted skipped).
- ``rebuild_meta``: journal/meta.json is a cache: deleted under the lock and rewritten by
  the writer from the segment listing and the tail (never when its next_seq is ahead of
  the journal: that hint keeps a seq from being reused, and the writer notes it).
- ``sweep``: delete a stray temp file or directory, a set-aside checkpoint, a killed
  verify's scratch directory; only once untouched for `STALE_AFTER` seconds, so no work
  still in progress loses its files.
- ``set_aside_checkpoint``: rename a damaged or diverged checkpoint to
  ``.invalid-ckpt-*`` (the name the checkpoints package uses; nothing reads it).
- ``rebuild_projections``: `rebuild(store, everything=True)` under the store lock: every
  projection from genesis into a new checkpoint at the head.
- ``clear_projection_errors``: once that rebuild succeeded, forget the recorded errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkpoints import CheckpointStore
from journal import META, Journal, LakehouseError, relpath_of, remove_tree
from lakehouse._rebuild import LEFTOVER
from lakehouse.doctor._report import Report

STALE_AFTER = 600.0  # seconds a leftover must sit untouched before it is swept
_SWEEP = frozenset({"stray_temp_file", "stray_temp_dir", "set_aside_checkpoint"})
_META = frozenset(
    {"meta_missing", "meta_unreadable", "meta_absurd", "meta_store_id_mismatch", "meta_lagging"}
)
_RECOVERY = frozenset({"torn_tail", "meta_ahead"})
_SET_ASIDE = frozenset(
    {
        "manifest_missing",
        "manifest_invalid",
        "file_missing",
        "size_mismatch",
        "sha_mismatch",
        "file_unreadable",
        "unsafe_file",  # only as a checkpoint's finding: it names the checkpoint
        "checkpoint_diverged",
        "checkpoint_unreadable",
        "heads_damaged",
    }
)
_REBUILD = _SET_ASIDE | {
    "projection_diverged",
    "projection_stale",
    "projection_error",
    "rebuild_leftover",
    "live_unreadable",
}
Announce = Callable[["Action"], None]


@dataclass
class Action:
    """One repair: what (code), on what (target), said in words; then whether it was done."""

    code: str
    target: str
    description: str
    run: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    done: bool = False
    skipped: str | None = None  # why it is not done (planned that way)
    error: str | None = None  # why it failed
    needs: Action | None = field(default=None, repr=False, compare=False)  # done first

    def to_dict(self) -> dict[str, Any]:
        """The action as a JSON-ready object."""
        return {
            "action": self.code,
            "target": self.target,
            "description": self.description,
            "done": self.done,
            "skipped": self.skipped,
            "error": self.error,
        }


def repair(
    root: str | os.PathLike[str],
    report: Report,
    *,
    lock_timeout: float = 10.0,
    min_age: float = STALE_AFTER,
    announce: Announce | None = None,
    finished: Announce | None = None,
) -> list[Action]:
    """Plan the repairs `report` calls for, announce them all, then do them in order."""
    actions = plan(root, report, lock_timeout=lock_timeout, min_age=min_age)
    for action in actions:
        if announce is not None:
            announce(action)
    for action in actions:
        if action.needs is not None and not action.needs.done and action.skipped is None:
            action.skipped = f"{action.needs.code} was not done"
        if action.run is not None and action.skipped is None:
            try:
                action.run()
                action.done = True
            except (LakehouseError, OSError) as error:
                action.error = getattr(error, "message", None) or str(error)
        if finished is not None:
            finished(action)
    return actions


def plan(
    root: str | os.PathLike[str],
    report: Report,
    *,
    lock_timeout: float = 10.0,
    min_age: float = STALE_AFTER,
) -> list[Action]:
    """The repairs a report calls for, in the order they are done; nothing is done yet."""
    root = Path(root)
    codes = {finding.code for finding in report.findings}
    damaged = bool(report.counts.get("unexplained_damage"))
    actions: list[Action] = []
    rebuild = bool(codes & _REBUILD)
    if codes & _REBUILD == {"rebuild_leftover"} and _age(root / LEFTOVER) is not None:
        # resume points alone, and fresh: a rebuild may be running; leave it be
        rebuild = (_age(root / LEFTOVER) or 0.0) >= min_age
    if (codes & _META or rebuild) and codes & _RECOVERY:
        actions.append(_recovery(root, codes, lock_timeout))
    if codes & _META:
        actions.append(_meta(root, lock_timeout))
    for finding in report.findings:
        if finding.code in _SWEEP and finding.path:
            actions.append(_sweep(root, finding.path, min_age))
        if finding.code == "rebuild_leftover" and finding.path and (damaged or not rebuild):
            # else the rebuild resumes from them and removes them
            actions.append(_sweep(root, finding.path, min_age))
    aside = sorted({f.checkpoint for f in report.findings if f.code in _SET_ASIDE and f.checkpoint})
    actions += [_set_aside(root, name) for name in aside]
    if rebuild:
        actions.append(_rebuild(root, lock_timeout, damaged))
        if "projection_error" in codes:
            actions.append(_clear_errors(root, actions[-1]))
    return actions


def _recovery(root: Path, codes: set[str], lock_timeout: float) -> Action:
    what = []
    if "torn_tail" in codes:
        what.append("adjudicates the torn tail with a journal.fragment_adjudicated note")
    if "meta_ahead" in codes:
        what.append("notes the seqs meta.json reserved as skipped (journal.seq_repaired)")

    def run() -> None:
        with Journal.open(root, lock_timeout=lock_timeout) as journal, journal.transaction():
            pass

    return Action(
        "writer_recovery",
        "LOCK",
        "take the store lock; the writer's own recovery "
        + " and ".join(what)
        + " (the note is appended: no byte already written changes)",
        run,
    )


def _meta(root: Path, lock_timeout: float) -> Action:
    path = root / META

    def run() -> None:
        with Journal.open(root, lock_timeout=lock_timeout) as journal, journal.transaction() as tx:
            # the writer recovered on taking the lock: a hint ahead of the journal is
            # noted and rewritten by now, so deleting meta.json cannot lower it
            if (journal.check_meta(head=tx.head_seq).next_seq or 0) <= tx.head_seq + 1:
                remove_tree(root, META)
        # a fresh writer finds no meta.json and writes it from the listing and the tail
        with Journal.open(root, lock_timeout=lock_timeout) as journal, journal.transaction():
            pass
        if not path.is_file():
            raise OSError(f"{path} was not rewritten")

    return Action(
        "rebuild_meta",
        META,
        "rebuild journal/meta.json (a cache) from the segment listing and the tail, "
        "under the store lock",
        run,
    )


def _sweep(root: Path, relpath: str, min_age: float) -> Action:
    path = root / relpath
    action = Action("sweep", relpath, f"delete {relpath}")
    age = _age(path)
    if age is None:
        action.skipped = "it is gone already"
    elif age < min_age:
        action.skipped = f"touched {age:.0f} s ago: it may belong to work in progress"
    else:

        def run() -> None:
            remove_tree(root, relpath)  # through descriptors: no symlink above it is followed

        action.run = run
    return action


def _age(path: Path) -> float | None:
    """Seconds since anything under `path` last changed; None if it does not exist."""
    try:
        newest = path.lstat().st_mtime
    except FileNotFoundError:
        return None
    if path.is_dir() and not path.is_symlink():
        for directory, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(directory, name)).st_mtime)
                except FileNotFoundError:
                    continue
    return max(0.0, time.time() - newest)


def _set_aside(root: Path, name: str) -> Action:
    def run() -> None:
        CheckpointStore(root).set_aside(name)  # durable, through no symlinked directory

    return Action(
        "set_aside_checkpoint",
        f"checkpoints/{name}",
        f"rename checkpoints/{name} to checkpoints/.invalid-{name}-* (readers skip it)",
        run,
    )


def _rebuild(root: Path, lock_timeout: float, damaged: bool) -> Action:
    action = Action(
        "rebuild_projections",
        "checkpoints",
        "rebuild every projection from genesis into a new checkpoint at the head, "
        "under the store lock",
    )
    if damaged:
        action.skipped = "the journal is damaged: a fold from genesis stops at the damage"
        return action

    def run() -> None:
        from lakehouse._rebuild import rebuild
        from lakehouse._store import Store

        # the lock keeps writers out, so the checkpoint is of a head nobody moves
        opened = Store.open(root, lock_timeout=lock_timeout, checkpoint_every=0)
        with opened as store, store.journal.transaction():
            rebuild(store, everything=True)

    action.run = run
    return action


def _clear_errors(root: Path, rebuilt: Action) -> Action:
    from lakehouse._stops import status_path

    path = status_path(root)

    def run() -> None:
        remove_tree(root, relpath_of(root, path))

    return Action(
        "clear_projection_errors",
        str(path.relative_to(root)),
        f"delete {path.relative_to(root)}, the errors projections stopped with before the rebuild",
        run,
        needs=rebuilt,
    )
