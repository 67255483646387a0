"""The doctor: what is wrong with a store, the proof that the journal reproduces it, repairs.

`diagnose(root)` is the quick check (no lock taken, nothing written); `verify(root)` adds
every segment hash and every projection rebuilt from genesis and diffed against the
checkpoint and the live read models; both return a `Report` of `Finding`s. `repair(root,
report)` does what is safe for what a report found, never rewriting history; `plan` says
what that would be.
"""

from journal import Finding
from lakehouse.doctor._quick import diagnose
from lakehouse.doctor._repair import STALE_AFTER, Action, plan, repair
from lakehouse.doctor._report import Progress, Report
from lakehouse.doctor._verify import verify

__all__ = [
    "STALE_AFTER",
    "Action",
    "Finding",
    "Progress",
    "Report",
    "diagnose",
    "plan",
    "repair",
    "verify",
]
