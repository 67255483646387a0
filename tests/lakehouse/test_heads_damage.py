"""A damaged heads snapshot is never trusted: commands fold from the journal instead and warn.

The damage is what the cheap check of a checkpoint (sizes only) cannot see: bytes changed
in place, the file's size the same. Every command must then give exactly the result it
gives without the damage (same rev, same --if-rev verdict, same replay), and the journal
must get what it would have got.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from checkpoints import Checkpoint
from journal import Journal
from lakehouse import DamageWarning, Store
from lakehouse.cli import cli

HINT = (
    "hint: 'lakehouse doctor' reports the damage; 'lakehouse doctor --repair' sets the "
    "checkpoint aside and writes a sound one"
)


def _replace(checkpoint: Checkpoint, relpath: str, old: bytes, new: bytes) -> None:
    """Change `old` (found exactly once) to `new`, of the same length, in a checkpoint file."""
    path = checkpoint.path / relpath
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    path.write_bytes(data.replace(old, new))
    assert Checkpoint.load(checkpoint.path, checkpoint.seq).valid  # the cheap check passes


def _last_record(root: Path) -> dict[str, object]:
    with Journal.open(root) as journal:
        record = list(journal.read(after=0))[-1]
    return {"kind": record.kind, "id": record.id, "rev": record.rev}


def test_a_flipped_rev_in_the_heads_snapshot_changes_no_verdict(store: Path) -> None:
    with Store.open(store) as lake:
        uid = lake.traces.add(text="plan the ingest").id
        made = lake.checkpoint()
    _replace(made, "heads/trace.json", b'"rev":1', b'"rev":3')  # one bit: 0x31 -> 0x33

    result = CliRunner().invoke(
        cli, ["--store", str(store), "trace", "update", uid, "--text", "b", "--if-rev", "1"]
    )
    assert (result.exit_code, result.stdout) == (0, f"trace {uid} rev 2 at seq 3\n")
    assert result.stderr.splitlines() == [
        f"warning: {made.name}/heads/trace.json shard 0 does not match its CRC-32: the heads "
        "are folded from genesis instead",
        HINT,
    ]
    assert _last_record(store) == {"kind": "trace.updated", "id": uid, "rev": 2}

    result = CliRunner().invoke(cli, ["--store", str(store), "trace", "update", uid, "--text", "c"])
    assert (result.exit_code, result.stdout) == (0, f"trace {uid} rev 3 at seq 4\n")
    assert _last_record(store)["rev"] == 3


def test_a_shard_that_no_longer_parses_is_not_a_traceback(store: Path) -> None:
    with Store.open(store) as lake:
        uid = lake.traces.add(text="plan the ingest").id
        made = lake.checkpoint()
    _replace(made, "heads/trace.json", b'"uid":', b'"uid"?')  # invalid JSON, same size
    with Store.open(store) as lake:
        with pytest.warns(DamageWarning, match=r"shard 0 does not match its CRC-32") as caught:
            outcome = lake.traces.update(uid, text="b", if_rev=1)
        assert outcome.rev == 2 and lake.traces.get(uid)["text"] == "b"
    assert caught[0].message.fields == {  # type: ignore[union-attr]
        "checkpoint": made.name,
        "file": "heads/trace.json",
    }


@pytest.mark.parametrize("table", ["trace", "keys"])
def test_the_fallback_is_the_older_checkpoint_and_reads_archived_segments(
    tmp_path: Path, table: str
) -> None:
    root = tmp_path / "store"
    options = {"checkpoint_every": 0, "durability": "none"}
    with Store.open(root, create=True, segment_bytes=2048, **options) as lake:
        uid = lake.traces.add(text="first").id
        older = lake.checkpoint()
        lake.traces.update(uid, text="second")  # rev 2, between the two checkpoints
        keyed = lake.traces.add(text="keyed", idempotency_key="k-1")
        for n in range(12):
            lake.traces.add(text=f"filler {n} rolls the segments")
        newer = lake.checkpoint()
        # what the older checkpoint misses is archived now: a fold from it must read it
        assert lake.journal.archive(upto=newer.seq)
        assert keyed.seq is not None and lake.journal.segments()[0][0].first_seq > keyed.seq
    keys = orjson.loads((newer.path / "heads" / "keys.json").read_bytes())
    assert keys["k-1"]["rev"] == 1
    rev = b'"rev":2' if table == "trace" else b'"rev":1'  # in the one head each table has
    _replace(newer, f"heads/{table}.json", rev, rev[:-1] + b"3")

    message = f"{newer.name}/heads/{table}.json .* folded from checkpoint {older.name} instead"
    with Store.open(root, **options) as lake, pytest.warns(DamageWarning, match=message):
        replay = lake.traces.add(text="keyed", idempotency_key="k-1")
        updated = lake.traces.update(uid, text="third", if_rev=2)
    assert (replay.replayed, replay.seq, replay.id, replay.rev) == (True, keyed.seq, keyed.id, 1)
    assert (updated.rev, _last_record(root)) == (
        3,
        {"kind": "trace.updated", "id": uid, "rev": 3},
    )


def test_a_fold_record_by_record_falls_back_without_folding_a_record_twice(store: Path) -> None:
    from lakehouse._heads import Heads
    from lakehouse._snapshot import Snapshot

    with Store.open(store, checkpoint_every=0) as lake:
        uid = lake.traces.add(text="plan the ingest").id
        made = lake.checkpoint()
        assert lake.traces.add(text="plan the ingest", idempotent=True).id == uid  # replays 1
        _replace(made, "heads/trace.json", b'"replays":0', b'"replays":8')
        heads = Heads(lake.families, Snapshot(made), fallback=lake.fall_back)
        with pytest.warns(DamageWarning, match="folded from genesis instead"):
            taken = [heads.take(record) for record in lake.records(after=made.seq)]
        if heads.snapshot is not None:
            heads.snapshot.close()
    assert [head["replays"] for _, head in filter(None, taken)] == [1]
