"""The demo's own store: where it lives, and the proof that nothing in it is anyone else's.

The demo runs on ``./lakehouse-demo`` unless ``--store`` names another place (never on
$LAKEHOUSE_STORE or ``./lakehouse-store``, the tour's store). It re-creates a store only
when it can show the store is its own: a marker file names the writers the demo ran
(``writer`` of every record: pid plus a per-process nonce), and every record in the
journal, archived ones included, must come from one of them; the root may hold nothing
but the store's own entries. A marker alone is not enough: a user who ran a command on
the demo's store has written a record the marker does not name, and the store is kept.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from journal import Journal, LakehouseError

if TYPE_CHECKING:
    from lakehouse._store import Store

DEMO_STORE = "./lakehouse-demo"
MARKER = ".lakehouse-demo"
DEMO_INPUT = "demo-input"
_LAYOUT = frozenset({"LOCK", "journal", "checkpoints", "objects", "projections", DEMO_INPUT})


def fresh_store(root: Path) -> Path:
    """`root`, emptied if it is a store the demo made and nobody else wrote to."""
    if not root.exists() or not any(root.iterdir()):
        return root
    why = _not_ours(root)
    if why is not None:
        raise click.UsageError(
            f"{root} {why}, so the demo will not re-create it; hint: run the demo elsewhere "
            f"(`lakehouse --store /tmp/lh-demo demo`), or move {root} away first"
        )
    shutil.rmtree(root)
    return root


def _not_ours(root: Path) -> str | None:
    """Why `root` is not a store only the demo wrote to, or None if it is one."""
    try:
        marker = orjson.loads((root / MARKER).read_bytes())
        writers = set(marker["writers"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return "holds a store the demo did not create (or one from an older demo)"
    others = sorted(entry.name for entry in root.iterdir() if entry.name not in _LAYOUT)
    if others != [MARKER]:
        return f"holds {', '.join(n for n in others if n != MARKER)}, which the demo did not make"
    try:
        with Journal(root) as journal:
            reading = journal.read(on_damage="report", archived=True)
            foreign = [record for record in reading if record.writer not in writers]
    except LakehouseError as error:
        return f"cannot be read ({error.message})"
    if foreign:
        first = foreign[0]
        return (
            f"holds {len(foreign)} records the demo did not write (the first: seq "
            f"{first.seq}, {first.kind})"
        )
    return None


def mark(store: Store) -> None:
    """Name, in the marker, every writer of the store's records so far: the demo's own."""
    writers = sorted({record.writer for record in store.journal.read(archived=True)})
    body = {"made_by": "lakehouse demo", "writers": writers, "note": "safe to delete"}
    (store.root / MARKER).write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
