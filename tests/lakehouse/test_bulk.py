"""The fold in bulk (SQL, lakehouse/_bulk.py) gives exactly what the record-by-record fold gives.

Random histories are written straight through the journal (as the families' commands
write them, and with values no command would write), then folded both ways from genesis:
every table's content and every head must be equal. A history holding a record the SQL
cannot take exactly must send the bulk fold back to Python (None), never to an answer
that differs; a history of well-formed records must be taken in bulk, so the equality is
never checked on nothing.
"""

from __future__ import annotations

import re
import string
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import Draft, Journal, SegmentDamaged
from lakehouse import Store
from lakehouse._bulk import bulk_fold
from lakehouse._readmodels import Fold, connect_models, fold
from projections import ReadModels

WORDS = st.text(string.ascii_letters + " ", min_size=1, max_size=12)
# JSON values whose text DuckDB and orjson write differently, and the ordinary ones
ODD_NUMBERS = st.sampled_from(
    [1e-7, 2.5e-5, 0.0001, 1e16, 1.5e20, 12345678901234567.0, 2**63 - 1, 2**64 - 1, -(2**63)]
)
NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    ODD_NUMBERS,
)
TEXTS = st.one_of(WORDS, st.text(max_size=8), st.sampled_from(['\x1f\x00\n\t"\\/', "é\u2028😀"]))
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3),
    max_leaves=6,
)
TAGS = st.lists(st.sampled_from(["a", "b", "ops", "x:1"]), max_size=3, unique=True)


@st.composite
def history(draw: st.DrawFn, *, odd: bool) -> list[Draft]:
    """Drafts of the three families folded in SQL, in an order their commands allow;
    with `odd`, any JSON where a value goes (what no command would write)."""
    value = JSON if odd else TEXTS
    drafts: list[Draft] = []
    traces: dict[str, int] = {}
    playbooks: dict[str, int] = {}
    for step in range(draw(st.integers(1, 30))):
        choice = draw(st.integers(0, 9))
        if choice <= 2 or not traces:
            uid = f"trc_{step}"
            body: dict[str, Any] = {
                "tags": draw(TAGS),
                "content_hash": f"h{draw(st.integers(0, 3))}",
            }
            if draw(st.booleans()):
                body["text"] = draw(WORDS)
            else:
                body["content"] = draw(st.dictionaries(TEXTS, JSON, max_size=3))
            kind = "trace.added"
            if traces and draw(st.booleans()):
                kind, body["predecessor"] = "trace.revised", draw(st.sampled_from(sorted(traces)))
            traces[uid] = 1
            drafts.append(Draft(kind, "trace", uid, body, 1))
        elif choice <= 4:
            uid = draw(st.sampled_from(sorted(traces)))
            traces[uid] += 1
            kind = draw(
                st.sampled_from(
                    ["trace.updated", "trace.replayed", "trace.superseded", "trace.retired"]
                )
            )
            payload: dict[str, Any] = {}
            if kind == "trace.updated":
                payload = {"text": draw(WORDS)} if draw(st.booleans()) else {"tags": draw(TAGS)}
            elif kind == "trace.superseded":
                payload = {"successor": draw(st.sampled_from(sorted(traces)))}
            elif kind == "trace.retired" and draw(st.booleans()):
                payload = {"reason": draw(value)}
            drafts.append(Draft(kind, "trace", uid, payload, traces[uid]))
        elif choice <= 6:
            attempts = [
                {"prompt": draw(WORDS), "raw": draw(TEXTS), "verdict": draw(WORDS)}
                for _ in range(draw(st.integers(0, 3)))
            ]
            session = {
                "model": draw(WORDS),
                "attempts": attempts,
                "outcome": "success",
                "grounded_in_roster": draw(st.booleans() | st.none()),
                "timings": draw(st.dictionaries(WORDS, NUMBERS, max_size=3)),
                "extra": draw(value),
            }
            if draw(st.booleans()):
                session["idempotency"] = {"key": f"k{draw(st.integers(0, 4))}", "request": "r"}
            drafts.append(
                Draft("session.recorded", "session", f"s{draw(st.integers(0, 5))}", session, 1)
            )
        elif choice <= 8 or not playbooks:
            uid = f"pb_{step}"
            playbooks[uid] = 1
            recorded = {
                "query": draw(WORDS),
                "endorsed": draw(st.lists(WORDS, max_size=3)),
                "target_count": draw(st.integers(0, 2**63 - 1)),
                "fingerprint": None,
                "kind": "answer",
            }
            drafts.append(Draft("playbook.recorded", "playbook", uid, recorded, 1))
        else:
            uid = draw(st.sampled_from(sorted(playbooks)))
            playbooks[uid] += 1
            drafts.append(
                Draft("playbook.retired", "playbook", uid, {"reason": draw(WORDS)}, playbooks[uid])
            )
    return drafts


@pytest.fixture
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("bulk")


def write(root: Path, drafts: list[Draft], *, batch: bool) -> None:
    with Journal.open(root, create=True, durability="none") as journal:
        if batch:
            journal.append_many(drafts)
        else:
            for draft in drafts:
                journal.append_many([draft])


def both(
    root: Path,
) -> tuple[tuple[dict[str, str], dict[str, Any]] | None, tuple[dict[str, str], dict[str, Any]]]:
    """(table digests, heads) of the fold in bulk (None: it fell back) and of the Python fold."""
    with Store.open(root, checkpoint_every=0) as store:
        upto = store.journal.head_seq or 0
        chosen = store.projections()
        python = fold(store, None, chosen, upto=upto)
        models = ReadModels(connect_models(root, locked=False), python.parts, upto)
        expected = (models.state_digest(), python.heads.tables())
        models.close()
        python.close()
        got = bulk_fold(store, chosen, upto=upto)
        if got is None:
            return None, expected
        bulk = ReadModels(got.con, [part for done in got.folds for part in done.parts], upto)
        try:
            return (bulk.state_digest(), got.folds[0].heads.tables()), expected
        finally:
            bulk.close()
            got.close()
            assert not list((root / "projections" / "cache").glob("spill-*"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drafts=history(odd=False), batch=st.booleans())
def test_well_formed_histories_are_folded_in_bulk_to_the_same_tables_and_heads(
    tmp_path_factory: pytest.TempPathFactory, drafts: list[Draft], batch: bool
) -> None:
    root = tmp_path_factory.mktemp("bulk")
    write(root, drafts, batch=batch)
    bulk, python = both(root)
    assert bulk is not None, "a well-formed history fell back to Python"
    assert bulk[0] == python[0]
    assert bulk[1] == python[1]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drafts=history(odd=True))
def test_any_json_where_a_value_goes_is_folded_the_same_or_falls_back(
    tmp_path_factory: pytest.TempPathFactory, drafts: list[Draft]
) -> None:
    root = tmp_path_factory.mktemp("bulk")
    write(root, drafts, batch=False)
    bulk, python = both(root)
    if bulk is not None:
        assert bulk[0] == python[0]
        assert bulk[1] == python[1]


REFUSED = [  # one record the SQL cannot take exactly, after a good one of each family
    Draft("trace.updated", "trace", "trc_nobody", {"text": "who?"}, 2),
    Draft("trace.added", "trace", "trc_n", {"text": 5}, 1),
    Draft("trace.added", "trace", "trc_t", {"text": "t", "tags": [1]}, 1),
    Draft("trace.superseded", "trace", "trc_ok", {}, 2),
    Draft("session.recorded", "session", "s-a", {"attempts": "abc"}, 1),
    Draft("session.recorded", "session", "s-b", {"attempts": [{"prompt": "p"}]}, 1),
    Draft("session.recorded", "session", "s-c", {"id": "other"}, 1),
    Draft("session.recorded", "session", "s-d", {"grounded_in_roster": 1}, 1),
    Draft("playbook.recorded", "playbook", "pb_b", {"query": "q", "target_count": 2**63}, 1),
    Draft("playbook.recorded", "playbook", "pb_t", {"query": "q", "target_count": True}, 1),
    Draft("playbook.recorded", "playbook", "pb_e", {"query": "q", "endorsed": ["a", 2]}, 1),
    Draft("playbook.retired", "playbook", "pb_none", {}, 2),
    Draft("trace.added", "trace", "trc_v", {"text": "future"}, 1, v=2),
    Draft("trace.renamed", "trace", "trc_ok", {}, 2),
]
GOOD = [
    Draft("trace.added", "trace", "trc_ok", {"text": "fine", "tags": [], "content_hash": "h"}, 1),
    Draft("session.recorded", "session", "s-ok", {"attempts": [], "outcome": "success"}, 1),
    Draft("playbook.recorded", "playbook", "pb_ok", {"query": "q", "endorsed": ["a"]}, 1),
]


def test_a_good_history_is_taken_in_bulk(empty: Path) -> None:
    write(empty, GOOD, batch=False)
    bulk, python = both(empty)
    assert bulk == python


@pytest.mark.parametrize("refused", REFUSED, ids=lambda d: f"{d.kind}-{d.id}")
def test_a_record_the_sql_cannot_take_exactly_sends_the_fold_back_to_python(
    empty: Path, refused: Draft
) -> None:
    write(empty, [*GOOD, refused], batch=False)
    bulk, _ = both(empty)
    assert bulk is None


def test_a_torn_tail_is_read_alike_and_a_damaged_record_stops_both_alike(empty: Path) -> None:
    write(empty, GOOD, batch=False)
    (segment,) = (empty / "journal" / "segments").iterdir()
    with segment.open("ab") as file:
        file.write(b'\n{"seq":99,"ts":"2026')  # what a killed append leaves
    bulk, python = both(empty)
    assert bulk == python
    data = bytearray(segment.read_bytes())
    data[data.index(b'"fine"') + 1] ^= 0x01  # a flipped bit inside an acknowledged record
    segment.write_bytes(bytes(data))
    with Store.open(empty, checkpoint_every=0) as store:
        head = store.journal.head_seq or 0
        with pytest.raises(SegmentDamaged) as python:
            fold(store, None, store.projections(), upto=head)
        with pytest.raises(SegmentDamaged) as bulk:
            bulk_fold(store, store.projections(), upto=head)
        assert bulk.value.fields == python.value.fields


def test_a_projection_without_sql_that_reads_heads_keeps_the_fold_in_python(empty: Path) -> None:
    write(empty, GOOD, batch=False)
    with Store.open(empty, checkpoint_every=0) as store:
        chosen = store.projections()
        traces = next(p for p in chosen if p.name == "traces")

        class Plain(type(traces)):  # type: ignore[misc]
            name = "plain_traces"
            columnar: ClassVar[Mapping[str, str]] = {}

        assert bulk_fold(store, [*chosen, Plain()], upto=store.journal.head_seq or 0) is None
        got = bulk_fold(store, chosen, upto=store.journal.head_seq or 0)
        assert got is not None
        assert all(isinstance(done, Fold) for done in got.folds)
        got.close()


def _crafted(line: bytes, old: bytes, new: bytes) -> bytes:
    """`line` with the first match of `old` made `new` and its CRC made to match (a hand
    edit)."""
    body = re.sub(old, new, line[:-18], count=1)
    return body + b',"crc":"%08x"}' % zlib.crc32(body)


@pytest.mark.parametrize(
    ("old", "new"),
    [(rb'"id":"s-ok"', b'"id":5'), (rb'"rev":1', b'"rev":"x"'), (rb'"ts":"[^"]*"', b'"ts":7')],
    ids=["id-a-number", "rev-a-string", "ts-a-number"],
)
def test_an_envelope_duckdb_would_make_text_or_null_sends_the_fold_back_to_python(
    empty: Path, old: bytes, new: bytes
) -> None:
    write(empty, GOOD, batch=False)
    (segment,) = (empty / "journal" / "segments").iterdir()
    data = segment.read_bytes()
    lines = data.split(b"\n")
    at = next(n for n, line in enumerate(lines) if b'"id":"s-ok"' in line)
    lines[at] = _crafted(lines[at], old, new)
    segment.write_bytes(b"\n".join(lines))
    with Store.open(empty, checkpoint_every=0) as store:
        head = store.journal.head_seq or 0
        python = fold(store, None, store.projections(), upto=head)
        try:  # the Python fold gives that record to each projection's policy
            stopped = {p.projection.name for p in python.parts if p.changes.stopped}
            letters = {p.projection.name for p in python.parts if p.changes.dead_letters}
            assert "journal" in stopped | letters
        finally:
            python.close()
        assert bulk_fold(store, store.projections(), upto=head) is None
