"""`Finding`: one thing a check found. The journal's readers and scan, the checkpoint
store's verify and scan, and the doctor all report with it.

What it is (`code`, `severity`, `message`) comes first; where it is and what to do are
keyword-only and optional, each layer filling in the ones it knows (`segment`, `seq`,
`offset` for a record, `checkpoint` and `file` for a checkpoint, `entity`, `table`,
`entities` for derived state, `path` for any file below the store root). `keys` is the
JSON object each layer has always printed, in its order: `to_dict` gives those keys.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
JOURNAL_KEYS = ("code", "severity", "message", "segment", "seq", "offset", "hint", "path")


@dataclass(frozen=True)
class Finding:
    """One thing a check found: what (code), how bad, where, and what to do (hint)."""

    code: str
    severity: Severity
    message: str
    _: KW_ONLY
    hint: str | None = None
    segment: str | None = None
    seq: int | None = None
    offset: int | None = None
    path: str | None = None  # relative to the store root
    checkpoint: str | None = None
    file: str | None = None  # relative to its checkpoint
    entity: str | None = None
    table: str | None = None
    entities: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(default=JOURNAL_KEYS, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready object with its layer's keys (each always present)."""
        out = {key: getattr(self, key) for key in self.keys}
        if "entities" in out:
            out["entities"] = list(self.entities)
        return out

    def lines(self) -> list[str]:
        """The finding for people: ``severity: code: message`` and an indented hint."""
        out = [f"{self.severity}: {self.code}: {self.message}"]
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return out
