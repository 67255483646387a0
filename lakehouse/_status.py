"""`projections status`: where each projection stands against the journal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse._readmodels import META, bases, dead_letters, open_read_models
from lakehouse._stops import recorded_errors

if TYPE_CHECKING:
    from lakehouse._kernel import Engine


def projection_status(store: Engine) -> list[dict[str, Any]]:
    """One row per projection: state, watermark, lag, fingerprints, dead letters, last error."""
    head = store.journal.head_seq or 0
    projections = store.projections()
    checkpoints = store.checkpoints.list()
    latest = next((c for c in reversed(checkpoints) if c.valid), None)
    held = {
        p.name: seq
        for seq, (_, group) in bases(checkpoints, projections, at_most=head).items()
        for p in group
    }
    errors = recorded_errors(store.root)
    letters = _dead_letters(store, errors)
    rows = []
    for projection in projections:
        watermark = held[projection.name]
        recorded = latest.meta.get(META, {}).get(projection.name, {}) if latest else {}
        if latest is None or not recorded:
            state = "not checkpointed"
        elif recorded.get("fingerprint") != projection.fingerprint:
            state = "stale: rebuild"
        else:
            state = "current"
        rows.append(
            {
                "projection": projection.name,
                "state": state,
                "watermark": watermark,
                "lag": head - watermark,
                "fingerprint": projection.fingerprint,
                "checkpoint_fingerprint": recorded.get("fingerprint"),
                "dead_letters": letters.get(projection.name, 0),
                "error": errors.get(projection.name),
                "kinds": sorted(projection.kinds) or ["*"],
                "policy": projection.policy,
            }
        )
    return rows


def _dead_letters(store: Engine, errors: dict[str, str]) -> dict[str, int]:
    """Dead letters per projection, the tail's included (the tail is folded to count them);
    the stops the fold meets go into `errors`."""
    models, _ = open_read_models(store, locked=False)
    try:
        errors.update(models.stopped)
        return {name: len(dead_letters(part)) for name, part in models.parts.items()}
    finally:
        models.close()
