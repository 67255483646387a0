"""Helpers the family tests share."""

from __future__ import annotations

from pathlib import Path

from journal import Journal


def head_seq(store: Path) -> int | None:
    """The journal's head seq, read by a fresh Journal: did a refusal append anything?"""
    with Journal.open(store) as journal:
        return journal.head_seq
