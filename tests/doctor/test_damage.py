"""Each kind of damage, made by hand: `doctor --verify-journal` names it and exits 7.

Every test starts from a copy of one store (tests/doctor/_util.py): segments 1.. sealed
and listed by a checkpoint, then records after the checkpoint in the active segment.
Each asserts the exact set of error codes (so nothing else is reported by accident),
where the finding points (segment, seq, checkpoint, table, entity) and the exit code.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from checkpoints import CheckpointStore
from journal import Journal
from lakehouse import Store
from tests.doctor._util import (
    Built,
    codes,
    doctor,
    errors,
    flip_in,
    human,
    lines,
    rewrite_listed,
    segments,
)


def _ckpt(built: Built) -> Path:
    return built.root / "checkpoints" / built.checkpoint


def _only(report: dict[str, object], code: str) -> dict[str, object]:
    found = [f for f in errors(report) if f["code"] == code]  # type: ignore[arg-type]
    assert len(found) == 1, report
    return found[0]


def test_a_healthy_store_verifies_clean(built: Built) -> None:
    code, report, stderr = doctor(built.root, "--verify-journal")
    assert (code, report["ok"], report["healthy"], report["status"]) == (0, True, True, "healthy")
    assert codes(report) - {"info"} == {"head_seq", "checkpoints", "projection_watermark"}
    assert report["head_seq"] == built.head and report["counts"]["records"] == built.head
    listed = CheckpointStore(built.root).get(built.checkpoint_seq).meta["segments"]
    assert report["counts"]["segments_hashed"] == len(listed) >= 2
    assert stderr == ""  # progress only on a terminal
    for finding in report["findings"]:
        assert set(finding) >= {"severity", "code", "message", "segment", "seq", "entity", "hint"}
    # the scratch directory of the fold from genesis is gone
    assert not list((built.root / "projections" / "cache").glob("doctor-*"))


def test_bit_flip_in_a_sealed_segment(built: Built) -> None:
    sealed = segments(built.root)[1]
    flip_in(sealed, b"loads the staff")
    code, report, _ = doctor(built.root, "--verify-journal")
    assert (code, report["status"]) == (7, "damaged")
    assert codes(report, "error") == {"crc_mismatch", "segment_hash_mismatch"}
    crc = _only(report, "crc_mismatch")
    assert (crc["segment"], crc["seq"]) == (sealed.name, int(sealed.stem))
    mismatch = _only(report, "segment_hash_mismatch")
    assert (mismatch["segment"], mismatch["checkpoint"]) == (sealed.name, built.checkpoint)
    assert sealed.name in str(mismatch["message"]) and built.checkpoint in str(mismatch["message"])
    # no fold from genesis over a damaged journal: the damage is the finding
    assert "rebuild_skipped" in codes(report, "info")


def test_bit_flip_in_the_active_segment(built: Built) -> None:
    active = segments(built.root)[-1]
    flip_in(active, b"validates the roster")
    code, report, _ = doctor(built.root, "--verify-journal")
    assert code == 7 and codes(report, "error") == {"crc_mismatch"}
    crc = _only(report, "crc_mismatch")
    assert crc["segment"] == active.name and crc["seq"] == built.checkpoint_seq + 1
    # the quick doctor reads every record too
    code, report, _ = doctor(built.root)
    assert code == 7 and codes(report, "error") == {"crc_mismatch"}


def test_bit_flip_in_a_checkpoint_file(built: Built) -> None:
    table = _ckpt(built) / "tables" / "traces.parquet"
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0x10
    table.write_bytes(bytes(data))
    code, report, _ = doctor(built.root, "--verify-journal")
    assert code == 7
    sha = _only(report, "sha_mismatch")
    assert sha["checkpoint"] == built.checkpoint
    assert sha["path"] == f"checkpoints/{built.checkpoint}/tables/traces.parquet"
    # readers check sizes only, so the live read models do read the damaged file
    assert codes(report, "error") <= {"sha_mismatch", "live_unreadable", "projection_diverged"}


def test_bit_flip_in_a_checkpoint_manifest(built: Built) -> None:
    manifest = _ckpt(built) / "manifest.json"
    flip_in(manifest, b"{")  # the manifest no longer parses
    for args in (["--verify-journal"], []):
        code, report, _ = doctor(built.root, *args)
        assert code == 7 and codes(report, "error") == {"manifest_invalid"}
        assert _only(report, "manifest_invalid")["checkpoint"] == built.checkpoint


def test_a_deleted_middle_segment_is_a_gap(built: Built) -> None:
    middle = segments(built.root)[1]
    following = segments(built.root)[2]
    middle.unlink()
    code, report, _ = doctor(built.root, "--verify-journal")
    assert code == 7 and codes(report, "error") == {"seq_gap", "segment_missing"}
    gap = _only(report, "seq_gap")
    assert (gap["segment"], gap["seq"]) == (following.name, int(following.stem))
    missing = _only(report, "segment_missing")
    assert (missing["segment"], missing["checkpoint"]) == (middle.name, built.checkpoint)


def test_a_duplicated_line_is_a_duplicate_seq(built: Built) -> None:
    active = segments(built.root)[-1]
    last = lines(active)[-1]
    active.write_bytes(active.read_bytes() + b"\n" + last + b"\n")
    code, report, _ = doctor(built.root, "--verify-journal")
    assert code == 7 and codes(report, "error") == {"duplicate_seq"}
    duplicate = _only(report, "duplicate_seq")
    assert (duplicate["segment"], duplicate["seq"]) == (active.name, built.head)
    assert report["counts"]["duplicate_seqs"] == 1
    assert report["counts"]["unexplained_damage"] == 0


def test_a_renamed_segment_no_longer_matches_its_name(built: Built) -> None:
    sealed = segments(built.root)[1]
    renamed = sealed.with_name(f"{int(sealed.stem) + 1:020d}.jsonl")
    sealed.rename(renamed)
    code, report, _ = doctor(built.root, "--verify-journal")
    assert code == 7 and codes(report, "error") == {"segment_name_mismatch", "segment_missing"}
    mismatch = _only(report, "segment_name_mismatch")
    assert (mismatch["segment"], mismatch["seq"]) == (renamed.name, int(sealed.stem))
    assert _only(report, "segment_missing")["segment"] == sealed.name


@pytest.mark.parametrize(
    ("table", "key", "column"),
    [
        ("traces", "uid", "text"),  # keyed, with updated_seq
        ("trace_search", "uid", "text"),  # keyed, no seq column: the entity's last record
        ("journal", "seq", "payload"),  # a log table, by seq
    ],
)
def test_a_checkpoint_edited_by_hand_diverges_at_the_rows_seq(
    built: Built, table: str, key: str, column: str
) -> None:
    """One row rewritten in the checkpoint's Parquet, its manifest entry to match."""
    uid = built.uids[5]  # not touched after the checkpoint: the live models show it too
    seq = built.added_at[uid]  # the record that set its rows
    relpath = f"tables/{table}.parquet"
    data = pq.read_table(_ckpt(built) / relpath)
    values = data.column(column).to_pylist()
    values[data.column(key).to_pylist().index(uid if key == "uid" else seq)] = "edited by hand"
    data = data.set_column(data.schema.get_field_index(column), column, pa.array(values))
    buffer = io.BytesIO()
    pq.write_table(data, buffer)
    rewrite_listed(_ckpt(built), relpath, buffer.getvalue())

    code, report, _ = doctor(built.root)
    assert code == 0, "the quick check cannot see it: the checkpoint checks out"
    code, report, _ = doctor(built.root, "--verify-journal")
    assert (code, report["status"]) == (7, "diverged")
    assert codes(report, "error") == {"checkpoint_diverged", "projection_diverged"}
    for code_, at in (
        ("checkpoint_diverged", built.checkpoint_seq),
        ("projection_diverged", built.head),
    ):
        diverged = _only(report, code_)
        assert (diverged["table"], diverged["entity"], diverged["entities"]) == (table, uid, [uid])
        assert diverged["seq"] == seq
        message = str(diverged["message"])
        assert f"genesis to seq {at}: 1 row differs (0 missing, 0 extra, 1 changed)" in message
        assert f"first divergent seq {seq}, entities {uid}" in message
    assert _only(report, "checkpoint_diverged")["checkpoint"] == built.checkpoint


def test_a_checkpoint_without_its_manifest(built: Built) -> None:
    (_ckpt(built) / "manifest.json").unlink()
    for args in (["--verify-journal"], []):
        code, report, _ = doctor(built.root, *args)
        assert code == 7 and codes(report, "error") == {"manifest_missing"}
        assert _only(report, "manifest_missing")["checkpoint"] == built.checkpoint


def test_a_stray_temp_directory_is_a_warning(built: Built) -> None:
    stray = built.root / "checkpoints" / f".tmp-{built.checkpoint}-0badc0de"
    (stray / "tables").mkdir(parents=True)
    for args in (["--verify-journal"], []):
        code, report, _ = doctor(built.root, *args)
        assert code == 0 and codes(report, "error") == set()
        found = [f for f in report["findings"] if f["code"] == "stray_temp_dir"]
        assert [(f["severity"], f["path"]) for f in found] == [
            ("warning", f"checkpoints/{stray.name}")
        ]


def test_an_unadjudicated_fragment_in_the_middle_of_a_segment(built: Built) -> None:
    """A torn write followed by good records that no writer adjudicated."""
    active = segments(built.root)[-1]
    records = lines(active)
    torn = records[1][:40]  # a prefix of a record, as an interrupted write leaves
    body = [records[0], torn, *records[1:]]
    active.write_bytes(b"".join(b"\n" + line + b"\n" for line in body))
    code, report, _ = doctor(built.root, "--verify-journal")
    assert code == 7 and codes(report, "error") == {"unadjudicated_fragment"}
    fragment = _only(report, "unadjudicated_fragment")
    assert (fragment["segment"], fragment["seq"]) == (active.name, int(active.stem) + 1)


def test_the_human_report_has_a_line_and_a_hint_per_finding(built: Built) -> None:
    (_ckpt(built) / "manifest.json").unlink()
    code, out, err = human(built.root)
    assert code == 7 and err == ""
    lines_ = out.splitlines()
    at = lines_.index(
        f"error: manifest_missing: checkpoints/{built.checkpoint} has no manifest.json: "
        "it does not exist for readers"
    )
    assert lines_[at + 1].startswith("  hint: derived data (readers skip it): ")
    assert lines_[-1].startswith("DAMAGED: 1 errors, 0 warnings")


def test_a_record_its_family_cannot_fold_is_a_dead_letter_named_by_both_doctors(
    built: Built,
) -> None:
    """A record written around validation: the projections that read it skip it, by
    their policy, and every read goes on (tests/lakehouse/test_unfoldable.py)."""
    with Journal.open(built.root) as journal:
        bad = journal.append(kind="trace.updated", entity="trace", id="nope", payload={}, rev=2)
    for args in (["--verify-journal"], []):
        code, report, _ = doctor(built.root, *args)
        assert code == 0 and codes(report, "error") == set()
        letters = [f for f in report["findings"] if f["code"] == "dead_letters"]
        assert {f["seq"] for f in letters} == {bad.seq} and len(letters) == 2  # traces, search
        assert all(
            f"(trace.updated nope): RecordUnfoldable: record seq {bad.seq} (trace.updated) is "
            "about trace nope, which no earlier record created" in f["message"]
            for f in letters
        )


def test_a_missing_dataset_object(built: Built) -> None:
    csv = built.root.parent / "staff.csv"
    csv.write_text("id,name\n1,ann\n2,bob\n")
    with Store.open(built.root, checkpoint_every=0) as store:
        store.datasets.ingest("staff", csv)
    assert doctor(built.root)[0] == 0
    (obj,) = (built.root / "objects").rglob("*.parquet")
    obj.unlink()
    code, report, _ = doctor(built.root)
    assert code == 7 and codes(report, "error") == {"object_missing"}
    missing = _only(report, "object_missing")
    assert (missing["entity"], missing["path"]) == ("staff", str(obj.relative_to(built.root)))
