"""catalog.json: the datasets, their schemas, files, rows and fingerprints, for other tools.

It lives at ``<store>/projections/catalog.json`` and in every checkpoint. It is rewritten
whole (temp file and rename) after each dataset ingest, register and drop, and at each
checkpoint; a write never replaces the file with an older state than it holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from journal import open_file
from lakehouse._atomic import write_atomic

if TYPE_CHECKING:
    from lakehouse._kernel import Host

FORMAT = 1
_DIR = "projections"
FIELDS = ("name", "dataset_id", "fingerprint", "schema", "files", "rows", "rev", "seq")


def manifest_path(root: Path) -> Path:
    """Where catalog.json is kept up to date for other tools."""
    return root / _DIR / "catalog.json"


def manifest_bytes(datasets: Iterable[Mapping[str, Any]], seq: int) -> bytes:
    """The manifest of the datasets not dropped, at `seq`, as JSON (stable order)."""
    kept = sorted((d for d in datasets if not d.get("dropped")), key=lambda d: str(d["name"]))
    body = {
        "format": FORMAT,
        "seq": seq,
        "datasets": [{key: dataset.get(key) for key in FIELDS} for dataset in kept],
    }
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def refresh_manifest(store: Host) -> None:
    """Rewrite catalog.json from the heads, unless a newer one is already there."""
    heads = store.heads()
    datasets = (head for _, head in heads.all("dataset"))
    install_manifest(store.root, lambda: manifest_bytes(datasets, heads.seq), heads.seq)


def install_manifest(root: Path, build: Callable[[], bytes], seq: int) -> None:
    """Write the manifest `build` gives as catalog.json, unless the one there is newer."""
    import portalocker

    path = manifest_path(root)
    # made (or checked) without following a symlink, so portalocker opens a plain file
    # below a real directory and never creates one elsewhere through a planted link
    os.close(open_file(root, f"{_DIR}/.catalog.lock", os.O_RDWR | os.O_CREAT))
    # the lock orders two writers, so the slower one cannot put an older state back
    with portalocker.Lock(str(path.with_name(".catalog.lock")), timeout=10):
        if _seq_of(path) < seq:
            write_atomic(root, f"{_DIR}/{path.name}", build())


def _seq_of(path: Path) -> int:
    try:
        if path.is_symlink():
            return -1  # not believed: the write replaces it
        seq = orjson.loads(path.read_bytes()).get("seq")
    except (OSError, ValueError, AttributeError):
        return -1
    return seq if isinstance(seq, int) else -1
