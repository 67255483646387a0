"""Every error class, drawn once: its parent, CLI exit code, HTTP status and builtin bases.

A new error class fails here until it is drawn; a changed exit code or status (a contract
of the CLI and the endpoint) fails here before any user sees it.
"""

from __future__ import annotations

import importlib
import pkgutil

from journal import LakehouseError

PACKAGES = ("journal", "checkpoints", "projections", "lakehouse")
# name: (parent in the tree, exit code, HTTP status, builtin bases, nearest first)
TREE: dict[str, tuple[str | None, int, int, tuple[str, ...]]] = {
    "LakehouseError": (None, 1, 500, ()),
    "JournalError": ("LakehouseError", 1, 500, ()),
    "StoreNotFound": ("JournalError", 5, 404, ("FileNotFoundError", "OSError")),
    "JournalClosed": ("JournalError", 1, 500, ("ValueError",)),
    "InvalidRecord": ("JournalError", 3, 400, ("ValueError",)),
    "DraftInvalid": ("InvalidRecord", 3, 400, ("ValueError",)),
    "PayloadInvalid": ("InvalidRecord", 3, 400, ("ValueError",)),
    "RecordTooLarge": ("InvalidRecord", 3, 413, ("ValueError",)),
    "LockTimeout": ("JournalError", 6, 503, ("TimeoutError", "OSError")),
    "WriterStopped": ("JournalError", 1, 500, ("OSError",)),
    "JournalDamaged": ("JournalError", 7, 500, ()),
    "SegmentDamaged": ("JournalDamaged", 7, 500, ()),
    "SeqExhausted": ("JournalDamaged", 7, 500, ()),
    "UnsafeFile": ("JournalDamaged", 7, 500, ()),
    "CheckpointError": ("LakehouseError", 1, 500, ()),
    "CheckpointNotFound": ("CheckpointError", 5, 404, ("LookupError",)),
    "CheckpointRefused": ("CheckpointError", 3, 400, ("ValueError",)),
    "CheckpointInvalid": ("CheckpointError", 7, 500, ()),
    "CheckpointUnreadable": ("CheckpointInvalid", 7, 500, ()),
    "CheckpointDamaged": ("CheckpointInvalid", 7, 500, ()),
    "SnapshotDamaged": ("CheckpointInvalid", 7, 500, ()),
    "CheckpointWriteFailed": ("CheckpointError", 1, 500, ("OSError",)),
    "ProjectionError": ("LakehouseError", 1, 500, ()),
    "QueryRefused": ("ProjectionError", 3, 400, ("ValueError",)),
    "QueryFailed": ("ProjectionError", 3, 400, ()),
    "ResultTooLarge": ("ProjectionError", 3, 422, ("ValueError",)),
    "ValueUnsupported": ("ProjectionError", 3, 406, ("ValueError",)),
    "EmbedderUnavailable": ("ProjectionError", 3, 400, ("LookupError",)),
    "ProjectionStopped": ("ProjectionError", 1, 500, ()),
    "ReadModelsTooLarge": ("ProjectionError", 1, 503, ("MemoryError",)),
    "VectorIndexUnreadable": ("ProjectionError", 1, 500, ()),
    "CommandError": ("LakehouseError", 1, 500, ()),
    "InvalidInput": ("CommandError", 3, 400, ("ValueError",)),
    "Conflict": ("CommandError", 4, 409, ()),
    "NotFound": ("CommandError", 5, 404, ("LookupError",)),
    "ObjectWriteFailed": ("CommandError", 1, 500, ("OSError",)),
    "RecordUnfoldable": ("CommandError", 1, 500, ()),
    "ServerError": ("LakehouseError", 1, 500, ()),
    "InternalError": ("ServerError", 1, 500, ()),
    "ServerRefused": ("ServerError", 3, 500, ("ValueError",)),
    "Unauthorized": ("ServerError", 1, 401, ("PermissionError", "OSError")),
    "RouteNotFound": ("ServerError", 5, 404, ("LookupError",)),
    "MethodNotAllowed": ("ServerError", 2, 405, ()),
    "AsOfBeyondHead": ("ServerError", 3, 400, ("ValueError",)),
    "FormatUnsupported": ("ServerError", 3, 406, ("ValueError",)),
    "BodyTooLarge": ("ServerError", 3, 413, ("ValueError",)),
    "RequestInvalid": ("ServerError", 3, 422, ("ValueError",)),
    "TooManyQueries": ("ServerError", 6, 429, ()),
    "ResultMemoryBusy": ("ServerError", 6, 429, ()),
    "NotCaughtUp": ("ServerError", 6, 503, ("TimeoutError", "OSError")),
    "TooManyConnections": ("ServerError", 6, 503, ()),
    "HttpError": ("ServerError", 1, 500, ()),
}


def _every_error_class() -> dict[str, type[LakehouseError]]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    found: dict[str, type[LakehouseError]] = {}
    todo: list[type[LakehouseError]] = [LakehouseError]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.split(".")[0] not in PACKAGES:
            continue  # one a test made
        assert found.setdefault(cls.__name__, cls) is cls, f"two error classes {cls.__name__}"
    return found


def test_every_error_class_is_drawn_with_its_codes_and_bases() -> None:
    found = _every_error_class()
    assert sorted(found) == sorted(TREE), "an error class is new or gone: draw it in TREE"
    for name, cls in found.items():
        parent = next((b.__name__ for b in cls.__bases__ if issubclass(b, LakehouseError)), None)
        builtins = tuple(
            b.__name__
            for b in cls.__mro__
            if b.__module__ == "builtins" and b not in (object, BaseException, Exception)
        )
        assert (parent, cls.exit_code, cls.http_status, builtins) == TREE[name], name
