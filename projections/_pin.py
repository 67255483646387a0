"""Checkpoint files named by an open descriptor, so a pruned checkpoint stays readable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_PROC_FD = "/proc/self/fd"


def pin(paths: Mapping[str, Path], fds: list[int]) -> dict[str, Path]:
    """Open each file now and name it by its descriptor (``/proc/self/fd/N``).

    A reader that names a checkpoint's files this way keeps reading them after the
    checkpoint is pruned or replaced by a rebuild: the files stay alive while open. Where
    there is no /proc (not Linux) the paths are returned as they are. FileNotFoundError
    means the checkpoint vanished before it could be pinned: pick one again.
    """
    if not os.path.isdir(_PROC_FD):
        return dict(paths)
    pinned: dict[str, Path] = {}
    for key, path in paths.items():
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        fds.append(fd)
        pinned[key] = Path(_PROC_FD, str(fd))
    return pinned


def pinned_directory() -> Path | None:
    """The directory pinned files are named under, for a connection's allowed directories."""
    return Path(_PROC_FD) if os.path.isdir(_PROC_FD) else None
