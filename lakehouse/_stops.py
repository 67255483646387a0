"""The status file: the stop each projection last met, for `projections status`.

A stop is in the read models that meet it (`ReadModels.stopped`); this file keeps it for
readers that do not fold that far themselves (the quick doctor on a long tail) and for
`projections status`. It is derived and disposable, under projections/cache/.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from journal import UnsafeFile, relpath_of
from projections import ProjectionStopped


def status_path(root: Path) -> Path:
    """Where the last projection error is kept (derived, disposable)."""
    return root / "projections" / "cache" / "status.json"


def recorded_errors(root: Path) -> dict[str, str]:
    """The last error each projection stopped with, by projection name (see record_error)."""
    try:
        found = orjson.loads(status_path(root).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        str(name): str(entry["error"])
        for name, entry in found.items()
        if isinstance(entry, dict) and entry.get("error")
    }


def record_error(root: Path, error: ProjectionStopped) -> None:
    """Remember a projection's stop for `projections status` (best effort)."""
    from lakehouse._atomic import write_atomic

    path = status_path(root)
    try:
        known = orjson.loads(path.read_bytes()) if path.is_file() else {}
        entry = {"error": error.message, **error.fields}
        name = error.fields.get("projection", "?")
        if known.get(name) == entry:
            return  # every read of a stopped projection meets the same stop
        known[name] = entry
        data = orjson.dumps(known, option=orjson.OPT_SORT_KEYS)
        write_atomic(root, relpath_of(root, path), data)  # no symlink on the way is followed
    except (OSError, ValueError, UnsafeFile):
        return  # the stop is in the read models that met it either way
