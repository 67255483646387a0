"""Where each projection stands: its watermark, its lag, its code, its errors, dead letters.

A projection's watermark is the seq of the newest valid checkpoint that holds it at its
current fingerprint (0: none does, reads fold it from genesis); its lag is how many
records every read folds on top. Dead letters come from that checkpoint's meta; the
records after it are folded too (as every read does) only when they are few, so the
quick doctor stays quick on a store that has not been checkpointed for a long time.
"""

from __future__ import annotations

from typing import Any

from checkpoints import Checkpoint
from journal import LakehouseError
from lakehouse._readmodels import META, Fold, bases, dead_letters
from lakehouse._stops import recorded_errors
from lakehouse._store import CHECKPOINT_EVERY
from lakehouse.doctor._context import Context
from lakehouse.doctor._genesis import FoldFailed, advance
from projections import Projection

FOLD_TAIL_UPTO = 20_000  # the quick doctor folds a tail this long at most (~1-2 s)
LAG_WARNING = CHECKPOINT_EVERY  # a lag this long makes every read slow


def check_projections(ctx: Context, *, fold_tail: bool, letters: bool = True) -> None:
    """One row per projection in the report; findings for lag, stale code, errors, letters.

    Without `letters`, dead letters are left to the caller (a verify takes them from its
    fold from genesis, which sees them all).
    """
    store, head = ctx.store, ctx.head
    projections = store.projections()
    groups = bases(ctx.checkpoints, projections, at_most=head)
    latest = next((c for c in reversed(ctx.checkpoints) if c.valid), None)
    rows: dict[str, dict[str, Any]] = {}
    for seq, (base, group) in groups.items():
        for projection in group:
            rows[projection.name] = {
                "projection": projection.name,
                "watermark": seq,
                "lag": head - seq,
                "checkpoint": base.name if base else None,
                "state": _state(latest, projection),
                "dead_letters": [] if base is None else _letters(base.meta, projection),
                "error": None,
            }
            if base is not None:
                _recorded_stop(ctx, base, projection, rows[projection.name])
    if fold_tail and not ctx.journal_damaged and head - min(groups, default=head) <= FOLD_TAIL_UPTO:
        _fold_tails(ctx, groups, rows)
    for name, error in recorded_errors(ctx.root).items():
        if name in rows and rows[name]["error"] is None:
            rows[name]["error"] = error
    ctx.report.projections = [
        {**row, "dead_letters": len(row["dead_letters"])} for row in rows.values()
    ]
    _watermarks(ctx, rows)
    for row in rows.values():
        _row_findings(ctx, row)
        if letters:
            report_letters(ctx, row["projection"], row["dead_letters"])


def _state(latest: Checkpoint | None, projection: Projection) -> str:
    """current, stale (its code changed since the newest checkpoint) or not checkpointed."""
    recorded = latest.meta.get(META, {}).get(projection.name) if latest else None
    if not isinstance(recorded, dict):
        return "not checkpointed"
    return "current" if recorded.get("fingerprint") == projection.fingerprint else "stale"


def _recorded_stop(
    ctx: Context, base: Checkpoint, projection: Projection, row: dict[str, Any]
) -> None:
    """A stop the checkpoint a projection starts from holds: its reads fail there too."""
    entry = base.meta.get(META, {}).get(projection.name, {})
    stop = entry.get("stopped") if isinstance(entry, dict) else None
    if isinstance(stop, dict):
        fields = stop.get("fields")
        seq = fields.get("seq") if isinstance(fields, dict) else None
        row["error"] = str(stop.get("message"))
        report_stop(ctx, row["error"], stop.get("hint"), seq)


def report_stop(ctx: Context, message: str, hint: Any, seq: Any) -> None:
    """An error for a projection stopped at a record: the reads of its tables fail (once)."""
    said = f"reads of the projection's tables fail: {message}"
    if any(f.code == "projection_stopped" and f.message == said for f in ctx.report.findings):
        return
    ctx.add(
        "error",
        "projection_stopped",
        said,
        hint=str(hint) if hint else None,
        seq=seq if isinstance(seq, int) else None,
    )


def _letters(meta: dict[str, Any], projection: Projection) -> list[dict[str, Any]]:
    entry = meta.get(META, {}).get(projection.name, {})
    letters = entry.get("dead_letters", []) if isinstance(entry, dict) else []
    return [letter for letter in letters if isinstance(letter, dict)]


def _fold_tails(ctx: Context, groups: dict[int, Any], rows: dict[str, dict[str, Any]]) -> None:
    """Fold the records after each checkpoint, as a read would: tail dead letters, stops."""
    for base, group in groups.values():
        try:
            done = Fold(ctx.store, base, group)
        except (LakehouseError, OSError):
            continue  # a checkpoint damaged or pruned meanwhile: other checks report it
        try:
            advance(done, ctx.head)
            for part in done.parts:
                rows[part.projection.name]["dead_letters"] = dead_letters(part)
                stop = part.changes.stopped
                if stop is not None:
                    report_stop(ctx, stop.message, stop.hint, stop.fields.get("seq"))
                    rows[part.projection.name]["error"] = stop.message
        except FoldFailed as failed:
            report_fold_failure(ctx, failed)
        except (LakehouseError, OSError):
            continue
        finally:
            done.close()


def report_fold_failure(ctx: Context, failed: FoldFailed) -> None:
    """An error naming the record that no read of the store gets past."""
    kind = next((r.kind for r in ctx.store.journal.read(after=failed.seq - 1, limit=1)), "?")
    ctx.add(
        "error",
        "fold_failed",
        f"record seq {failed.seq} ({kind}) cannot be folded: {type(failed.error).__name__}: "
        f"{failed.error}; every read of the read models fails on it",
        hint="a record its family or projection cannot take (written around validation, or "
        "by another version): report it as a bug, with the record ('lakehouse journal tail "
        f"--after {failed.seq - 1} --limit 1')",
        seq=failed.seq,
    )


def _watermarks(ctx: Context, rows: dict[str, dict[str, Any]]) -> None:
    """One line per watermark: the projections at it and how far behind the head it is."""
    at: dict[int, list[dict[str, Any]]] = {}
    for row in rows.values():
        at.setdefault(row["watermark"], []).append(row)
    for watermark, group in sorted(at.items()):
        lag = ctx.head - watermark
        names = ", ".join(row["projection"] for row in group)
        where = f"{group[0]['checkpoint']}" if group[0]["checkpoint"] else "no checkpoint"
        behind = f"every read folds the {lag:,} records after it" if lag else "up to date"
        message = f"projections {names} at watermark seq {watermark} ({where}): {behind}"
        if lag >= LAG_WARNING:
            ctx.add(
                "warning",
                "projection_lag",
                message,
                hint="make reads cheap again with 'lakehouse checkpoint create'",
                seq=watermark,
            )
        else:
            ctx.add("info", "projection_watermark", message, seq=watermark)


def _row_findings(ctx: Context, row: dict[str, Any]) -> None:
    name = row["projection"]
    rebuild = f"'lakehouse projections rebuild {name}' (or 'lakehouse doctor --repair')"
    if row["state"] == "stale":
        ctx.add(
            "warning",
            "projection_stale",
            f"projection {name}'s code or schema changed since the latest checkpoint: "
            "reads fold it from an older checkpoint or from genesis",
            hint=f"rebuild it: {rebuild}",
        )
    if row["error"] and "projection_stopped" not in ctx.report.codes():
        ctx.add(
            "warning",
            "projection_error",
            f"projection {name} stopped: {row['error']}",
            hint=f"fix the projection, then {rebuild}; the error may predate a fix",
        )


def report_letters(ctx: Context, name: str, letters: list[dict[str, Any]]) -> None:
    """A warning for a projection's dead letters, naming the first."""
    if not letters:
        return
    first = min(letters, key=lambda letter: int(letter.get("seq") or 0))
    ctx.report.count("dead_letters", len(letters))
    ctx.add(
        "warning",
        "dead_letters",
        f"projection {name} skipped {len(letters)} records it could not apply (dead "
        f"letters), the first at seq {first.get('seq')} ({first.get('kind')} "
        f"{first.get('id')}): {first.get('error')}",
        hint="by the projection's declared policy; correct the input with a new record "
        "if the skip is wrong ('lakehouse projections status' counts them)",
        seq=first.get("seq"),
        entity=first.get("id"),
    )
