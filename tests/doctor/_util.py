"""Helpers for the doctor tests: a small store with history on both sides of a checkpoint,
the ways to damage it, and running `lakehouse doctor` as a user would.

The store has several sealed segments (small `segment_bytes`), a checkpoint that lists
them, and records after the checkpoint in the active segment. Damage is done with plain
file operations, never with the engine, so the tests judge the doctor and not the other
way round.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from lakehouse import Store
from lakehouse.cli import cli

SEGMENT_BYTES = 2048  # a roll every ~5 records
TRACES = 12


@dataclass(frozen=True)
class Built:
    """What a test needs to know about the store it damages."""

    root: Path
    uids: list[str]  # traces, in the order added
    added_at: dict[str, int]  # uid -> seq of its trace.added
    checkpoint: str  # the checkpoint's directory name
    checkpoint_seq: int
    head: int


def build(root: Path) -> Built:
    """Traces, sessions and playbooks; a checkpoint; then updates and a session after it."""
    with Store.open(
        root, create=True, checkpoint_every=0, segment_bytes=SEGMENT_BYTES, durability="none"
    ) as store:
        uids, added_at = [], {}
        for n in range(TRACES):
            outcome = store.traces.add(text=f"trace {n} loads the staff table", tags=["etl"])
            uids.append(outcome.id)
            added_at[outcome.id] = outcome.seq or 0
            if n % 4 == 0:
                store.sessions.record(_session(f"s{n}"))
                store.playbooks.record(query=f"staff table {n}", endorsed=["a"], target_count=1)
        made = store.checkpoint()
        for uid in uids[:3]:
            store.traces.update(uid, text=f"{uid} validates the roster")
        store.sessions.record(_session("tail"))
        head = store.journal.head_seq or 0
    return Built(root, uids, added_at, made.name, made.seq, head)


def _session(sid: str) -> dict[str, Any]:
    return {
        "id": sid,
        "model": "coordinator-small",
        "attempts": [{"prompt": "who is on staff?", "raw": "ann, bob", "verdict": "accepted"}],
        "outcome": "success",
        "grounded_in_roster": True,
        "timings": {"total_s": 1.5},
    }


def copy(template: Built, root: Path) -> Built:
    """A copy of a built store at `root` (building costs more than copying)."""
    shutil.copytree(template.root, root)
    return Built(
        root,
        template.uids,
        template.added_at,
        template.checkpoint,
        template.checkpoint_seq,
        template.head,
    )


def segments(root: Path) -> list[Path]:
    """The live segment files, oldest first."""
    return sorted((root / "journal" / "segments").glob("*.jsonl"))


def flip_in(path: Path, needle: bytes, *, bit: int = 0) -> int:
    """Flip one bit of the first byte of `needle` in `path`; return the offset."""
    data = bytearray(path.read_bytes())
    at = data.index(needle)
    data[at] ^= 1 << bit
    path.write_bytes(bytes(data))
    return at


def lines(path: Path) -> list[bytes]:
    """A segment's records as they are on disk (framing newlines dropped)."""
    return [line for line in path.read_bytes().split(b"\n") if line]


def rewrite_listed(checkpoint_dir: Path, relpath: str, data: bytes) -> None:
    """Replace a checkpoint file and its manifest entry, so the checkpoint still checks out."""
    (checkpoint_dir / relpath).write_bytes(data)
    manifest_path = checkpoint_dir / "manifest.json"
    manifest = orjson.loads(manifest_path.read_bytes())
    manifest["files"][relpath] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest_path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")


def doctor(root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """`lakehouse --store ROOT doctor ARGS --json`: exit code, the report, stderr."""
    result = CliRunner().invoke(cli, ["--store", str(root), "doctor", *args, "--json"])
    assert result.stdout, (result.exit_code, result.stderr, result.exception)
    return result.exit_code, json.loads(result.stdout), result.stderr


def human(root: Path, *args: str) -> tuple[int, str, str]:
    """`lakehouse --store ROOT doctor ARGS`: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, ["--store", str(root), "doctor", *args])
    return result.exit_code, result.stdout, result.stderr


def errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The error findings of a JSON report."""
    return [finding for finding in report["findings"] if finding["severity"] == "error"]


def codes(report: dict[str, Any], severity: str | None = None) -> set[str]:
    """The codes of a JSON report's findings (of one severity, if given)."""
    return {
        finding["code"]
        for finding in report["findings"]
        if severity is None or finding["severity"] == severity
    }
