"""What a doctor run finds: `Finding`s (the journal's: one thing, how bad, where, what to
do; here with the doctor's `KEYS`) and the `Report` of them.

A report is healthy when no finding is an error. Its status names the worse of the two
kinds of trouble: ``damaged`` (something on disk is not what was written: a record, a
segment, a checkpoint file) or ``diverged`` (the files are intact, but derived state
differs from what the journal alone gives). Either exits 7 from the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from journal import Finding, Severity

# the keys of a finding in the doctor's JSON report, in order (all always present)
KEYS = (
    "severity",
    "code",
    "message",
    "segment",
    "seq",
    "entity",
    "hint",
    "offset",
    "checkpoint",
    "table",
    "path",
    "entities",
)
Mode = Literal["quick", "verify"]
DIVERGENCE = frozenset({"checkpoint_diverged", "projection_diverged"})
EXIT_DAMAGED = 7
_ORDER = {"error": 0, "warning": 1, "info": 2}


class Progress(Protocol):
    """Where long work says what it is doing; `transient` lines may be overwritten."""

    def __call__(self, message: str, *, transient: bool = False) -> None: ...


def quiet(message: str, *, transient: bool = False) -> None:
    """A `Progress` that says nothing."""


@dataclass
class Report:
    """Everything one doctor run found, with its counters and each projection's standing."""

    store: str
    mode: Mode
    head_seq: int | None = None
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    projections: list[dict[str, Any]] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        """Record a finding."""
        self.findings.append(finding)

    def count(self, name: str, by: int = 1) -> None:
        """Raise a counter."""
        self.counts[name] = self.counts.get(name, 0) + by

    def codes(self, severity: Severity | None = None) -> list[str]:
        """The codes found, in order (only those of one severity, if given)."""
        return [f.code for f in self.findings if severity is None or f.severity == severity]

    @property
    def errors(self) -> list[Finding]:
        """The error findings."""
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def healthy(self) -> bool:
        """True when nothing worse than a warning was found."""
        return not self.errors

    @property
    def status(self) -> str:
        """healthy, diverged (only derived state differs) or damaged."""
        codes = {finding.code for finding in self.errors}
        if not codes:
            return "healthy"
        return "diverged" if codes <= DIVERGENCE else "damaged"

    @property
    def exit_code(self) -> int:
        """0 when healthy, else 7 (damaged or diverged)."""
        return 0 if self.healthy else EXIT_DAMAGED

    def sorted_findings(self) -> list[Finding]:
        """Errors first, then warnings, then info; otherwise in the order found."""
        return sorted(self.findings, key=lambda finding: _ORDER[finding.severity])

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready object."""
        counts = dict(sorted(self.counts.items()))
        for severity in ("error", "warning", "info"):
            counts[f"{severity}s"] = sum(f.severity == severity for f in self.findings)
        return {
            "ok": self.healthy,
            "healthy": self.healthy,
            "status": self.status,
            "mode": self.mode,
            "store": self.store,
            "head_seq": self.head_seq,
            "counts": counts,
            "projections": self.projections,
            "findings": [finding.to_dict() for finding in self.sorted_findings()],
        }

    def verdict(self) -> str:
        """One closing line for people."""
        errors = len(self.errors)
        warnings = sum(f.severity == "warning" for f in self.findings)
        tally = f"{errors} errors, {warnings} warnings"
        if self.mode == "quick":
            tally += " (quick check; --verify-journal checks every record and rebuilds)"
        return f"{self.status.upper() if errors else 'healthy'}: {tally}"
