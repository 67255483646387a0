"""Hostile payloads round-trip exactly, or are refused before anything is written.

Exactly means: after a reopen, the payload read back is equal with ==, and also has the
same types (1 is not 1.0 nor True), the same key order and the same sign of zero.
A refusal is an InvalidRecord naming the field at fault in ``.fields["field"]``, raised
before a byte reaches the segment: its size and the head seq are unchanged.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import (
    MAX_BYTES,
    WARN_BYTES,
    Draft,
    InvalidRecord,
    Journal,
    RecordSizeWarning,
    RecordTooLarge,
)
from tests.journal._util import same, segment_files

HOSTILE_STRINGS = [
    "\u2028",
    "\u2029",
    "\u0085",
    "\r",
    "\n",
    "\r\n",
    '"\n"',
    '"\\n"',
    "\x00",
    "a\x00b",
    "\x1f\x7f",
    "\ud7ff\ue000\U0010ffff",
    "😀👍🏽🏳️‍🌈",
    '{"seq":1}',
    '\n{"seq":2,"crc":"00000000"}\n',
    "x" * 30_000,
    "é😀\u2028" * 2_500,
]


def _nested(depth: int) -> Any:
    value: Any = {"deep": [None]}
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


ROUND_TRIP: list[Any] = [
    *HOSTILE_STRINGS,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    0,
    -0.0,
    0.0,
    1e308,
    -1e308,
    5e-324,
    0.1,
    1.0,
    True,
    False,
    None,
    [],
    {},
    _nested(200),
    {"nested": {"k\u2028": ["\r", {"\n": "\x00", "": -0.0}]}},
]


def _size(store: Path) -> int:
    return sum(path.stat().st_size for path in segment_files(store))


@pytest.mark.parametrize("value", ROUND_TRIP, ids=range(len(ROUND_TRIP)))
def test_round_trips_exactly(store: Path, value: Any) -> None:
    payload = {"v": value, "k\u2028\n\r\x00": value, "z": 1, "a": 1.0}
    with Journal.open(store) as journal:
        written = journal.append(kind="t.added", entity="t", id="i\u2028d\n", payload=payload)
    with Journal.open(store) as journal:
        (read,) = journal.read(after=written.seq - 1)
        assert journal.scan().healthy
    assert read == written and read.payload == payload and read.id == "i\u2028d\n"
    assert same(read.payload, payload)


REFUSED: list[Any] = [
    pytest.param("\ud800", "payload.v", id="lone-surrogate"),
    pytest.param(["ok", {"x": "a\udfffb"}], "payload.v[1].x", id="surrogate-deep"),
    pytest.param({"\ud800": 1}, "payload.v", id="surrogate-key"),
    pytest.param(float("nan"), "payload.v", id="nan"),
    pytest.param(float("inf"), "payload.v", id="inf"),
    pytest.param(float("-inf"), "payload.v", id="-inf"),
    pytest.param([1, {"x": float("nan")}], "payload.v[1].x", id="nan-deep"),
    pytest.param({"a": [float("-inf")]}, "payload.v.a[0]", id="-inf-deep"),
    pytest.param(2**64, "payload.v", id="2**64"),
    pytest.param(-(2**63) - 1, "payload.v", id="-2**63-1"),
    pytest.param([0, {"n": 2**100}], "payload.v[1].n", id="big-int-deep"),
    pytest.param((1, 2), "payload.v", id="tuple"),
    pytest.param({1, 2}, "payload.v", id="set"),
    pytest.param(frozenset(), "payload.v", id="frozenset"),
    pytest.param(b"bytes", "payload.v", id="bytes"),
    pytest.param(bytearray(b"x"), "payload.v", id="bytearray"),
    pytest.param(datetime.datetime(2026, 1, 1), "payload.v", id="datetime"),
    pytest.param(datetime.date(2026, 1, 1), "payload.v", id="date"),
    pytest.param(uuid.UUID(int=5), "payload.v", id="uuid"),
    pytest.param(decimal.Decimal("1.5"), "payload.v", id="decimal"),
    pytest.param(1 + 2j, "payload.v", id="complex"),
    pytest.param(object(), "payload.v", id="object"),
    pytest.param(type("Custom", (), {"x": 1})(), "payload.v", id="custom-object"),
    pytest.param({1: "non-str key"}, "payload.v", id="int-key"),
    pytest.param({("a",): 1}, "payload.v", id="tuple-key"),
    pytest.param({"ok": {None: 1}}, "payload.v.ok", id="none-key-deep"),
]


def _refused(store: Path, draft: Draft) -> InvalidRecord:
    """The InvalidRecord raised by append and by a batch holding the draft; nothing written."""
    before = _size(store)
    kind, entity, id_, payload, rev, v = draft
    with Journal.open(store) as journal:
        with pytest.raises(InvalidRecord) as raised:
            journal.append(kind=kind, entity=entity, id=id_, payload=payload, rev=rev, v=v)
        with pytest.raises(InvalidRecord) as batch:
            journal.append_many([Draft("t.added", "t", "ok", {}), draft])
        assert journal.head_seq == 1
    assert _size(store) == before
    assert batch.value.fields == raised.value.fields
    assert raised.value.exit_code == 3 and raised.value.http_status == 400 and raised.value.hint
    return raised.value


@pytest.mark.parametrize(("value", "field"), REFUSED)
def test_refused_before_anything_is_written(store: Path, value: Any, field: str) -> None:
    error = _refused(store, Draft("t.added", "t", "x", {"v": value}))
    assert error.fields["field"] == field


def _bad(field: str, value: Any, **fields: Any) -> Any:
    """A test case: a draft whose `field` holds `value` (of any type), refused naming it."""
    good: dict[str, Any] = {"kind": "t.added", "entity": "t", "id": "x", "payload": {}}
    return pytest.param(
        Draft(**{**good, field: value}), field, id=f"{field}={value!r:.24}", **fields
    )


BAD_ENVELOPES: list[Any] = [
    *(
        _bad("kind", kind)
        for kind in [
            *("Trace.Added", "traceadded", "trace.", ".added", "trace..added", "t.a-b"),
            *("", "trace.added ", "trace.added\n", None, 5),
            # the journal's own notes: reserved
            *("journal.created", "journal.fragment_adjudicated", "journal.seq_repaired"),
            "journal.anything",
        ]
    ),
    *(_bad("entity", entity) for entity in ["T", "", "1t", "t-x", "t.x", None]),
    *(_bad("id", id_) for id_ in ["", "x" * 257, 5, None, b"x"]),
    _bad("id", "\ud800"),
    *(_bad("rev", rev) for rev in [-1, True, 1.0, "3", None]),
    *(_bad("v", v) for v in [-1, False, 1.5, "1"]),
    _bad("rev", 2**64),
    _bad("v", 2**64),
    _bad("rev", 2**63),
    _bad("payload", ["not", "a", "dict"]),
    _bad("payload", None),
]


@pytest.mark.parametrize(("draft", "field"), BAD_ENVELOPES)
def test_bad_envelope_fields_are_named(store: Path, draft: Draft, field: str) -> None:
    assert _refused(store, draft).fields["field"] == field


def test_a_dict_without_the_draft_keys_is_refused(store: Path) -> None:
    before = _size(store)
    with Journal.open(store) as journal, pytest.raises(InvalidRecord) as raised:
        journal.append_many([{"kind": "t.added", "entity": "t"}])
    assert raised.value.fields["field"] == "record"
    assert _size(store) == before


@pytest.mark.parametrize(
    ("depth", "refused"),
    [
        pytest.param(240, False, id="240"),
        pytest.param(300, True, id="300"),
        pytest.param(5_000, True, id="5000"),
    ],
)
def test_deep_nesting_round_trips_or_is_refused(store: Path, depth: int, refused: bool) -> None:
    payload = {"v": _nested(depth)}
    if refused:
        error = _refused(store, Draft("t.added", "t", "x", payload))
        assert error.fields["field"].startswith("payload.v[0]")  # the container too deep
        assert "deeper than 254 levels" in error.message
        return
    with Journal.open(store) as journal:
        written = journal.append(kind="t.added", entity="t", id="x", payload=payload)
    with Journal.open(store) as journal:
        (read,) = journal.read(after=1)
    assert read == written and same(read.payload, payload)


def _line_size(store: Path, journal: Journal, blob: int) -> int:
    """The size of a record's line with a blob of `blob` bytes, measured on disk."""
    before = _size(store)
    journal.append(kind="t.added", entity="t", id="x", payload={"blob": "b" * blob})
    return _size(store) - before - 2  # the two framing newlines


def test_size_limits_are_exact(store: Path) -> None:
    with Journal.open(store) as journal:
        overhead = _line_size(store, journal, 0)  # seq 2; the next ones have one digit too
        before, head = _size(store), journal.head_seq
        for blob in (MAX_BYTES + 1 - overhead, 10 * MAX_BYTES):
            with pytest.raises(RecordTooLarge) as raised:
                journal.append(kind="t.added", entity="t", id="x", payload={"blob": "b" * blob})
            assert "262144" in str(raised.value)
            assert raised.value.fields["size"] == blob + overhead
            assert raised.value.http_status == 413 and "objects/" in (raised.value.hint or "")
            with pytest.raises(RecordTooLarge):
                journal.append_many(
                    [
                        Draft("t.added", "t", "ok", {}),
                        Draft("t.added", "t", "x", {"blob": "b" * blob}),
                    ]
                )
        assert (_size(store), journal.head_seq) == (before, head)
        assert _line_size(store, journal, WARN_BYTES - overhead) == WARN_BYTES  # no warning
        with pytest.warns(RecordSizeWarning, match="above the 64 KiB soft limit"):
            assert _line_size(store, journal, WARN_BYTES + 1 - overhead) == WARN_BYTES + 1
        with pytest.warns(RecordSizeWarning):
            assert _line_size(store, journal, MAX_BYTES - overhead) == MAX_BYTES


def test_large_record_warns_and_reads_back(store: Path) -> None:
    payload = {"blob": "y\u2028" * 40_000}  # 160 KB of UTF-8
    with (
        Journal.open(store) as journal,
        pytest.warns(RecordSizeWarning, match="above the 64 KiB soft limit"),
    ):
        record = journal.append(kind="t.added", entity="t", id="x", payload=payload)
    with Journal.open(store) as journal:
        (read,) = journal.read(after=1)
        findings = journal.scan().findings
    assert read == record and same(read.payload, payload)
    assert [(f.code, f.severity, f.seq) for f in findings] == [
        ("oversize_record", "warning", record.seq)
    ]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),  # hypothesis's text() draws no surrogates
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.text(), JSON, max_size=5), id_=st.text(min_size=1, max_size=40))
def test_any_json_round_trips(store: Path, payload: dict[str, Any], id_: str) -> None:
    _round_trip(store, payload, id_)


def _round_trip(store: Path, payload: dict[str, Any], id_: str) -> None:
    with Journal.open(store) as journal:
        written = journal.append(kind="t.added", entity="t", id=id_, payload=payload)
    with Journal.open(store) as journal:
        (read,) = journal.read(after=written.seq - 1)
    assert read == written and same(read.payload, payload) and read.id == id_


@pytest.mark.soak
@settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.text(), JSON, max_size=8), id_=st.text(min_size=1, max_size=256))
def test_any_json_round_trips_soak(store: Path, payload: dict[str, Any], id_: str) -> None:
    _round_trip(store, payload, id_)
