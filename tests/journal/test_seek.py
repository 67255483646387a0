"""Cursor reads into a large segment start near the cursor, and hand out the same records."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import journal._parse as parse_module
from journal import Draft, Journal
from journal._seek import SEEK_MIN_BYTES
from tests.journal._util import segment_files


def _fill_mixed(store: Path, seed: int, target_bytes: int) -> list[int]:
    """Singles (some ~60 KiB) and batches of 2..300 records of up to 1 KB each."""
    rng = random.Random(seed)
    seqs: list[int] = [1]  # journal.created
    with Journal.open(store, durability="none") as journal:
        while segment_files(store)[-1].stat().st_size < target_bytes:
            count = rng.choice([1, 1, 1, 2, 17, 300])
            size = rng.choice([10, 100, 1000, 60_000]) if rng.random() < 0.02 else 50
            size = size if count == 1 else min(size, 1000)  # no batch of many megabytes
            drafts = [
                Draft("t.added", "t", f"t{len(seqs) + i}", {"x": "y" * rng.randint(1, size)})
                for i in range(count)
            ]
            if len(drafts) == 1:
                seqs.append(journal.append(**drafts[0]._asdict()).seq)
            else:
                seqs.extend(record.seq for record in journal.append_many(drafts))
    assert len(segment_files(store)) == 1
    return seqs


def test_every_cursor_reads_what_a_full_read_hands_out(store: Path, seed: int) -> None:
    seqs = _fill_mixed(store, seed, max(3 << 20, 3 * SEEK_MIN_BYTES))
    rng = random.Random(seed)
    with Journal.open(store) as journal:
        cursors = {0, 1, seqs[-1] - 1, seqs[-1], *rng.sample(seqs, 200)}
        for after in sorted(cursors):
            reading = journal.read(after=after, limit=3)
            got = [record.seq for record in reading]
            want = [seq for seq in seqs if seq > after][:3]
            assert got == want, f"after={after}"
            assert not reading.findings


def test_a_cursor_read_parses_only_the_end_of_a_large_segment(
    store: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seqs = _fill_mixed(store, seed, max(4 << 20, 4 * SEEK_MIN_BYTES))
    size = segment_files(store)[-1].stat().st_size
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        data = real_pread(fd, length, offset)
        reads.append(len(data))
        return data

    monkeypatch.setattr(parse_module.os, "pread", counting_pread)
    with Journal.open(store) as journal:
        got = [record.seq for record in journal.read(after=seqs[-10])]
    assert got == seqs[-9:]
    assert sum(reads) < size // 4, f"parsed {sum(reads)} of {size} bytes"


def test_damage_before_the_cursor_is_left_to_scan_damage_after_it_is_reported(
    store: Path, seed: int
) -> None:
    seqs = _fill_mixed(store, seed, 2 * SEEK_MIN_BYTES)
    with Journal.open(store) as journal:  # single records, so one spoiled line is one seq
        seqs += [
            journal.append(kind="t.added", entity="t", id=f"s{i}", payload={}).seq
            for i in range(30)
        ]
    path = segment_files(store)[-1]
    data = bytearray(path.read_bytes())
    late = data.rindex(b'{"seq":%d,' % seqs[-5])
    data[late + 40] ^= 0x01  # spoil a record near the end
    path.write_bytes(bytes(data))
    with Journal.open(store) as journal:
        reading = journal.read(after=seqs[-20], on_damage="report")
        got = [record.seq for record in reading]
        assert got == [seq for seq in seqs[-19:] if seq != seqs[-5]]
        assert [finding.seq for finding in reading.findings] == [seqs[-5]]
        assert not journal.scan().healthy
