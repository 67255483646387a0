"""Helpers the family tests share."""

from __future__ import annotations

from pathlib import Path

from journal import Journal

# a session every family test can record: one attempt, accepted
SESSION = {
    "id": "s-1",
    "model": "m",
    "attempts": [{"prompt": "p", "raw": "r", "verdict": "accepted"}],
    "outcome": "success",
    "grounded_in_roster": True,
    "timings": {"total_ms": 10},
}


def head_seq(store: Path) -> int | None:
    """The journal's head seq, read by a fresh Journal: did a refusal append anything?"""
    with Journal.open(store) as journal:
        return journal.head_seq
