"""Snapshot containers: a set of files plus a manifest written last, verified, listed.

Built on the journal only. (The container itself arrives with the families issue.)
"""

from journal import LakehouseError


class CheckpointError(LakehouseError):
    """Base of the errors raised by the checkpoints package."""

    code = "checkpoint_error"


__all__ = ["CheckpointError"]
