"""One `Finding` for the journal, the checkpoint store and the doctor; each prints its keys."""

from __future__ import annotations

import pytest

from checkpoints import FINDING_KEYS
from journal import JOURNAL_KEYS, Finding
from lakehouse.doctor._report import KEYS as DOCTOR_KEYS


def test_where_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Finding("crc_mismatch", "error", "bad", "00000000000000000001.jsonl")  # type: ignore[misc]


def test_each_layer_keeps_the_json_object_it_always_printed() -> None:
    found = Finding("sha_mismatch", "error", "m", hint="h", checkpoint="ckpt-1", file="a")
    assert (
        list(found.to_dict())
        == list(JOURNAL_KEYS)
        == [
            "code",
            "severity",
            "message",
            "segment",
            "seq",
            "offset",
            "hint",
            "path",
        ]
    )
    shaped = Finding("sha_mismatch", "error", "m", hint="h", checkpoint="c", keys=FINDING_KEYS)
    assert shaped.to_dict() == {
        "code": "sha_mismatch",
        "severity": "error",
        "message": "m",
        "checkpoint": "c",
        "file": None,
        "hint": "h",
    }
    assert list(shaped.to_dict()) == ["code", "severity", "message", "checkpoint", "file", "hint"]
    doctor = Finding("projection_diverged", "error", "m", entities=("a", "b"), keys=DOCTOR_KEYS)
    assert doctor.to_dict()["entities"] == ["a", "b"]
    assert list(doctor.to_dict()) == [
        "severity",
        "code",
        "message",
        "segment",
        "seq",
        "entity",
        "hint",
        "offset",
        "checkpoint",
        "table",
        "path",
        "entities",
    ]
    assert doctor == Finding("projection_diverged", "error", "m", entities=("a", "b"))
