"""One doctor run: the store opened for reading, the report it fills, what steps share.

The store is opened as a reader: `Store.open` builds a `Journal`, which opens the LOCK
file but takes no lock until it appends, and the doctor never appends. Nothing under
the store is written by a check, except the verify's scratch directory under
projections/cache/ (derived and disposable by definition, removed when it ends).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from journal import Finding, Severity
from lakehouse.doctor._report import KEYS, Mode, Progress, Report, quiet

if TYPE_CHECKING:
    from checkpoints import Checkpoint
    from journal import ScanReport
    from lakehouse._store import Store


class Context:
    """The store, the report being filled, and what one step learns for the next."""

    def __init__(
        self, root: str | os.PathLike[str], mode: Mode, progress: Progress = quiet
    ) -> None:
        from lakehouse._store import Store

        self.root = Path(root)
        self.store: Store = Store.open(self.root, checkpoint_every=0)
        self.report = Report(str(self.root), mode)
        self.progress = progress
        self.scan: ScanReport | None = None
        self.checkpoints: list[Checkpoint] = []
        self.bad_checkpoints: set[str] = set()  # ckpt-* names with an error finding

    @property
    def head(self) -> int:
        """The head seq the scan found (0 before the scan or for an empty journal)."""
        return self.report.head_seq or 0

    @property
    def journal_damaged(self) -> bool:
        """True if the scan found an error: a fold from genesis would stop at it."""
        return self.scan is not None and not self.scan.healthy

    def sound_checkpoints(self) -> list[Checkpoint]:
        """The checkpoints at or below the head that no check found fault with, oldest first."""
        return [
            checkpoint
            for checkpoint in self.checkpoints
            if checkpoint.name not in self.bad_checkpoints
            and checkpoint.manifest is not None
            and checkpoint.seq <= self.head
        ]

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        segment: str | None = None,
        seq: int | None = None,
        entity: str | None = None,
        checkpoint: str | None = None,
        table: str | None = None,
        path: str | None = None,
        entities: tuple[str, ...] = (),
    ) -> None:
        """Record a finding: what, how bad, where, and what to do about it (`hint`)."""
        self.report.add(
            Finding(
                code,
                severity,
                message,
                hint=hint,
                segment=segment,
                seq=seq,
                entity=entity,
                checkpoint=checkpoint,
                table=table,
                path=path,
                entities=entities,
                keys=KEYS,
            )
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
