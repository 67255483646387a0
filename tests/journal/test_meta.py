"""meta.json is a cache: deleted, garbage or stale, it is rebuilt and a seq is never reused."""

from __future__ import annotations

import time
from pathlib import Path
from unittest import mock

import orjson
import pytest

from journal import Journal


def _fill(store: Path, count: int) -> int:
    with Journal.open(store) as journal:
        for i in range(count):
            journal.append(kind="t.added", entity="t", id=f"t{i}", payload={"i": i})
        return journal.head_seq or 0


def _meta(store: Path) -> Path:
    return store / "journal" / "meta.json"


def _damage(store: Path, how: str) -> None:
    meta = _meta(store)
    if how == "deleted":
        meta.unlink()
    elif how == "garbage":
        meta.write_bytes(b"\x00\xffnot json")
    elif how == "wrong-shape":
        meta.write_bytes(b'{"next_seq": "eleven", "segments": 3}')
    else:
        body = orjson.loads(meta.read_bytes())
        body["next_seq"] += int(how)
        meta.write_bytes(orjson.dumps(body))


@pytest.mark.parametrize("how", ["deleted", "garbage", "wrong-shape", "-5"])
def test_lost_or_lagging_meta_is_rebuilt(store: Path, how: str) -> None:
    head = _fill(store, 10)
    store_id = Journal.open(store).store_id
    _damage(store, how)
    with Journal.open(store) as journal:
        assert journal.store_id == store_id  # from the journal.created record if need be
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        assert record.seq == head + 1
        assert journal.scan().healthy
    rebuilt = orjson.loads(_meta(store).read_bytes())
    assert rebuilt["next_seq"] == head + 2
    assert rebuilt["store_id"] == store_id
    assert rebuilt["segments"] == ["00000000000000000001.jsonl"]


def test_meta_ahead_of_the_tail_skips_seqs_with_a_note(store: Path) -> None:
    head = _fill(store, 10)
    _damage(store, "+5")
    with Journal.open(store) as journal:
        record = journal.append(kind="t.added", entity="t", id="next", payload={})
        notes = [r for r in journal.read(after=head) if r.kind == "journal.seq_repaired"]
        assert [(n.seq, n.payload["skipped"]) for n in notes] == [(head + 6, [head + 1, head + 5])]
        assert record.seq == head + 7  # nothing meta.json may have handed out is reused
        report = journal.scan()
        assert report.healthy  # the note explains the gap
    assert orjson.loads(_meta(store).read_bytes())["next_seq"] == head + 8


def test_an_unexplained_gap_is_damage(store: Path) -> None:
    head = _fill(store, 3)
    segment = next((store / "journal" / "segments").iterdir())
    data = segment.read_bytes()
    lines = data.split(b"\n")
    seq3 = next(i for i, line in enumerate(lines) if line.startswith(b'{"seq":3,'))
    segment.write_bytes(b"\n".join(lines[:seq3] + lines[seq3 + 1 :]))
    with Journal.open(store) as journal:
        assert [(f.code, f.seq) for f in journal.scan().findings] == [("seq_gap", head)]


@pytest.mark.parametrize("jump", [-3600 * 24 * 365, -1, 3600 * 5, -(10**9)])
def test_clock_jumps_change_nothing_about_order(store: Path, jump: int) -> None:
    real = time.time_ns
    offset = [0]
    with mock.patch("time.time_ns", lambda: max(0, real() + offset[0])), Journal.open(store) as j:
        seqs = []
        for i in range(6):
            offset[0] = jump * 10**9 * (i % 2)  # jump back and forth between appends
            seqs.append(j.append(kind="t.added", entity="t", id=f"t{i}", payload={}).seq)
        records = list(j.read())
    assert seqs == list(range(2, 8))
    assert [r.seq for r in records] == list(range(1, 8))
    assert len({r.ts for r in records}) == 7
    with Journal.open(store) as journal:
        assert journal.scan().healthy
