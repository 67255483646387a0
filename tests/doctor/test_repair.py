"""`doctor --repair`: every action is listed before any is done; history is never rewritten."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from journal import Journal
from lakehouse import Store
from lakehouse.doctor import STALE_AFTER, diagnose, plan, repair, verify
from tests.doctor._util import (
    Built,
    codes,
    doctor,
    errors,
    flip_in,
    human,
    rewrite_listed,
    segments,
)

OLD = time.time() - 2 * STALE_AFTER


def _journal_bytes(root: Path) -> dict[str, str]:
    """The sha256 of every segment, live and archived."""
    files = sorted((root / "journal").glob("*/*.jsonl"))
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def _age(path: Path) -> None:
    """Make `path` (and what is inside it) look untouched for a long time."""
    for inner in [path, *path.rglob("*")]:
        os.utime(inner, (OLD, OLD))


def _edit_checkpoint(built: Built) -> None:
    """Change one traces row in the checkpoint, its manifest entry to match (it diverges)."""
    ckpt = built.root / "checkpoints" / built.checkpoint
    table = pq.read_table(ckpt / "tables" / "traces.parquet")
    texts = table.column("text").to_pylist()
    texts[0] = "edited by hand"
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    rewrite_listed(ckpt, "tables/traces.parquet", buffer.getvalue())


def test_repair_lists_then_does_its_actions_and_the_store_verifies_clean(built: Built) -> None:
    root = built.root
    _edit_checkpoint(built)
    (root / "journal" / "meta.json").unlink()
    old_stray = root / "checkpoints" / f".tmp-{built.checkpoint}-0000aaaa"
    (old_stray / "tables").mkdir(parents=True)
    _age(old_stray)
    young_stray = root / "journal" / "meta.json.tmp-1-young"
    young_stray.write_bytes(b"{")
    # touched "now" however long the verify below takes on a loaded machine (age 0 s)
    os.utime(young_stray, (time.time() + 3600, time.time() + 3600))
    history = _journal_bytes(root)

    code, out, err = human(root, "--verify-journal", "--repair")
    assert err == "" and code == 0, out
    said = out.splitlines()
    assert said[0] == "repair plan:"
    done_at = said.index("repairs:")
    planned, performed = said[1:done_at], said[done_at + 1 :]
    assert all(line.startswith("  will: ") for line in planned)
    assert planned == [
        "  will: rebuild journal/meta.json (a cache) from the segment listing and the tail, "
        "under the store lock",
        f"  will: delete checkpoints/{old_stray.name}",
        f"  will: delete {young_stray.relative_to(root)} (skipped: touched 0 s ago: it may "
        "belong to work in progress)",
        f"  will: rename checkpoints/{built.checkpoint} to checkpoints/.invalid-"
        f"{built.checkpoint}-* (readers skip it)",
        "  will: rebuild every projection from genesis into a new checkpoint at the head, "
        "under the store lock",
    ]
    assert [line.split(":")[0] for line in performed[:5]] == [
        "  done",
        "  done",
        "  skipped",
        "  done",
        "  done",
    ]
    assert out.splitlines()[-1].startswith("healthy: 0 errors, 1 warnings")

    assert _journal_bytes(root) == history, "a repair changed a segment"
    assert (root / "journal" / "meta.json").is_file() and not old_stray.exists()
    assert young_stray.exists()
    report = verify(root)
    assert report.healthy and report.codes("warning") == ["stray_temp_file"]
    assert "set_aside_checkpoint" in report.codes("info")
    assert not (root / "checkpoints" / built.checkpoint).exists()
    assert (root / "checkpoints" / f"ckpt-{built.head:020d}").is_dir()


def test_repair_under_json_lists_the_actions(built: Built) -> None:
    (built.root / "checkpoints" / built.checkpoint / "manifest.json").unlink()
    code, report, _ = doctor(built.root, "--repair")
    assert code == 0 and report["healthy"]
    assert [(a["action"], a["done"]) for a in report["actions"]] == [
        ("set_aside_checkpoint", True),
        ("rebuild_projections", True),
    ]
    assert "manifest_missing" not in codes(report)


def test_nothing_to_repair(built: Built) -> None:
    code, out, _ = human(built.root, "--repair")
    assert code == 0 and "nothing to repair" in out.splitlines()


def test_a_damaged_journal_is_left_as_it_is(built: Built) -> None:
    flip_in(segments(built.root)[1], b"loads the staff")
    (built.root / "checkpoints" / built.checkpoint / "manifest.json").unlink()
    history = _journal_bytes(built.root)
    report = diagnose(built.root)
    actions = repair(built.root, report)
    assert [(a.code, a.done, a.skipped is not None) for a in actions] == [
        ("set_aside_checkpoint", True, False),
        ("rebuild_projections", False, True),
    ]
    assert "journal is damaged" in (actions[1].skipped or "")
    assert _journal_bytes(built.root) == history
    after = diagnose(built.root)
    assert after.exit_code == 7 and after.codes("error") == ["crc_mismatch"]


def test_a_torn_tail_is_adjudicated_by_the_writer_not_cut(built: Built) -> None:
    active = segments(built.root)[-1]
    whole = active.read_bytes()
    active.write_bytes(whole + b'\n{"seq":99,"ts":"2026')  # a writer died mid-write
    (built.root / "journal" / "meta.json").unlink()
    report = diagnose(built.root)
    assert report.healthy and "torn_tail" in report.codes("info")
    actions = plan(built.root, report)
    assert [a.code for a in actions] == ["writer_recovery", "rebuild_meta"]
    assert "adjudicates the torn tail" in actions[0].description
    repair(built.root, report)
    assert active.read_bytes().startswith(whole + b'\n{"seq":99,"ts":"2026')
    with Journal.open(built.root) as journal:
        notes = [r for r in journal.read() if r.kind == "journal.fragment_adjudicated"]
    assert [note.seq for note in notes] == [built.head + 1]
    after = verify(built.root)
    assert after.healthy and after.counts["adjudicated_fragments"] == 1
    assert orjson.loads((built.root / "journal" / "meta.json").read_bytes())["next_seq"] == (
        built.head + 2
    )


def test_a_damaged_heads_snapshot_is_reported_then_set_aside(built: Built) -> None:
    heads = built.root / "checkpoints" / built.checkpoint / "heads" / "trace.json"
    flip_in(heads, b'1,"successor"', bit=1)  # "rev":1 -> "rev":3, the size unchanged
    code, report, _ = doctor(built.root)  # the quick check
    assert (code, report["status"]) == (7, "damaged")
    assert [(f["code"], f["checkpoint"], f["path"]) for f in errors(report)] == [
        ("heads_damaged", built.checkpoint, f"checkpoints/{built.checkpoint}/heads/trace.json")
    ]
    assert "does not match the sha256 in its manifest" in errors(report)[0]["message"]

    code, report, _ = doctor(built.root, "--repair")
    assert code == 0 and report["healthy"]
    assert [(a["action"], a["done"]) for a in report["actions"]] == [
        ("set_aside_checkpoint", True),
        ("rebuild_projections", True),
    ]
    assert not (built.root / "checkpoints" / built.checkpoint).exists()
    with Store.open(built.root, checkpoint_every=0) as lake:  # and no DamageWarning now
        assert all(lake.traces.update(uid, text="x", if_rev=1).rev == 2 for uid in built.uids[3:])
