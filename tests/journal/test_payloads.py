"""Hostile payloads round-trip exactly or are refused before anything is written."""

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
    Draft,
    InvalidRecord,
    Journal,
    RecordSizeWarning,
    RecordTooLarge,
)

HOSTILE_STRINGS = [
    "\u2028",
    "\u2029",
    "\u0085",
    "\r",
    "\n",
    "\r\n",
    '"\\n"',
    "\x00",
    "a\x00b",
    "\x1f\x7f",
    "\ud7ff\ue000\U0010ffff",
    "😀👍🏽",
    '{"seq":1}',
    '\n{"seq":2,"crc":"00000000"}\n',
    "x" * 30_000,
]
ROUND_TRIP: list[Any] = [
    *HOSTILE_STRINGS,
    2**63 - 1,
    -(2**63),
    0,
    -0.0,
    1e308,
    5e-324,
    0.1,
    True,
    False,
    None,
    [[[[[[[[[[{"deep": []}]]]]]]]]]],
    {"nested": {"k\u2028": ["\r", {"\n": "\x00"}]}},
]
REFUSED: list[tuple[Any, str]] = [
    ("\ud800", "payload"),
    ("a\udfffb", "payload"),
    (float("nan"), "payload.v"),
    (float("inf"), "payload.v"),
    (float("-inf"), "payload.v"),
    ([1, {"x": float("nan")}], "payload.v[1].x"),
    (2**64, "payload"),
    (-(2**63) - 1, "payload"),
    ((1, 2), "payload.v"),
    ({1, 2}, "payload.v"),
    (b"bytes", "payload.v"),
    (datetime.datetime(2026, 1, 1), "payload.v"),
    (uuid.uuid4(), "payload.v"),
    (decimal.Decimal("1.5"), "payload.v"),
    (object(), "payload.v"),
    ({1: "non-str key"}, "payload.v"),
]


def _size(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "journal" / "segments").iterdir())


@pytest.mark.parametrize("value", ROUND_TRIP, ids=range(len(ROUND_TRIP)))
def test_round_trips_exactly(store: Path, value: Any) -> None:
    payload = {"v": value, "k\u2028\n": value}
    with Journal.open(store) as journal:
        written = journal.append(kind="t.added", entity="t", id="i\u2028d\n", payload=payload)
    with Journal.open(store) as journal:
        (read,) = journal.read(after=written.seq - 1)
    assert read == written and read.payload == payload and read.id == "i\u2028d\n"
    assert repr(read.payload) == repr(payload)  # -0.0 stays -0.0, ints stay ints


@pytest.mark.parametrize(("value", "field"), REFUSED, ids=range(len(REFUSED)))
def test_refused_before_anything_is_written(store: Path, value: Any, field: str) -> None:
    before = _size(store)
    with Journal.open(store) as journal:
        with pytest.raises(InvalidRecord) as raised:
            journal.append(kind="t.added", entity="t", id="x", payload={"v": value})
        with pytest.raises(InvalidRecord):
            journal.append_many(
                [Draft("t.added", "t", "ok", {}), Draft("t.added", "t", "x", {"v": value})]
            )
        assert journal.head_seq == 1
    assert raised.value.fields["field"] == field
    assert raised.value.exit_code == 3 and raised.value.hint
    assert _size(store) == before


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (Draft("Trace.Added", "t", "x", {}), "kind"),
        (Draft("traceadded", "t", "x", {}), "kind"),
        (Draft("journal.created", "t", "x", {}), "kind"),
        (Draft("t.added", "T", "x", {}), "entity"),
        (Draft("t.added", "t", "", {}), "id"),
        (Draft("t.added", "t", "x" * 257, {}), "id"),
        (Draft("t.added", "t", 5, {}), "id"),  # type: ignore[arg-type]
        (Draft("t.added", "t", "x", {}, rev=-1), "rev"),
        (Draft("t.added", "t", "x", {}, rev=True), "rev"),
        (Draft("t.added", "t", "x", {}, v=1.0), "v"),  # type: ignore[arg-type]
        (Draft("t.added", "t", "x", ["not", "a", "dict"]), "payload"),  # type: ignore[arg-type]
    ],
)
def test_bad_envelope_fields_are_named(store: Path, draft: Draft, field: str) -> None:
    before = _size(store)
    with Journal.open(store) as journal, pytest.raises(InvalidRecord) as raised:
        journal.append_many([draft])
    assert raised.value.fields["field"] == field
    assert _size(store) == before
    assert Journal.open(store).head_seq == 1


def test_oversize_record_is_refused_with_the_limit(store: Path) -> None:
    before = _size(store)
    with Journal.open(store) as journal, pytest.raises(RecordTooLarge) as raised:
        journal.append(kind="t.added", entity="t", id="x", payload={"blob": "x" * MAX_BYTES})
    assert str(MAX_BYTES) in str(raised.value) and "objects/" in (raised.value.hint or "")
    assert raised.value.exit_code == 3 and raised.value.http_status == 413
    assert _size(store) == before


def test_large_record_warns_and_reads_back(store: Path) -> None:
    payload = {"blob": "y" * 100_000}
    with Journal.open(store) as journal:
        with pytest.warns(RecordSizeWarning, match="above the 64 KiB soft limit"):
            record = journal.append(kind="t.added", entity="t", id="x", payload=payload)
        (read,) = journal.read(after=1)
        assert read.payload == payload
        findings = journal.scan().findings
    assert [(f.code, f.seq) for f in findings] == [("oversize_record", record.seq)]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.text(), JSON, max_size=5))
def test_any_json_round_trips(store: Path, payload: dict[str, Any]) -> None:
    with Journal.open(store) as journal:
        written = journal.append(kind="t.added", entity="t", id="p", payload=payload)
        (read,) = journal.read(after=written.seq - 1)
    assert read.payload == payload and read == written
