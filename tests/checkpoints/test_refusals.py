"""A create with a bad path, seq, source or meta is refused before anything is written.

Also the error tree: each class has its builtin parent, exit code and HTTP status, and a
refusal names the input at fault in its message and fields and says what to do.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkpoints import (
    CheckpointError,
    CheckpointInvalid,
    CheckpointNotFound,
    CheckpointRefused,
    CheckpointStore,
    CheckpointWriteFailed,
)
from checkpoints._files import check_relpath
from journal import LakehouseError

BAD_PATHS = [
    "",
    "/etc/passwd",
    "../outside",
    "a/../../outside",
    "a//b",
    "./a",
    "a/.",
    "a/",
    "manifest.json",
    "a\\b",
    "a\x00b",
]


def _nothing_written(store: Path) -> None:
    directory = store / "checkpoints"
    assert not directory.exists() or list(directory.iterdir()) == []
    assert not (store.parent / "outside").exists()


@pytest.mark.parametrize("relpath", BAD_PATHS, ids=repr)
def test_a_bad_relative_path_is_refused_by_name(store: Path, relpath: str) -> None:
    with pytest.raises(CheckpointRefused) as caught:
        CheckpointStore(store).create(1, {"good.json": b"{}", relpath: b"x"})
    assert repr(relpath) in caught.value.message and caught.value.hint
    assert caught.value.fields == {"file": relpath}
    assert isinstance(caught.value, ValueError)
    _nothing_written(store)


def test_a_nested_manifest_name_is_just_a_file(store: Path) -> None:
    made = CheckpointStore(store).create(1, {"sub/manifest.json": b"mine"})
    assert made.read_bytes("sub/manifest.json") == b"mine" and made.verify() == []


def test_a_file_that_would_be_the_directory_of_another_is_refused(store: Path) -> None:
    with pytest.raises(CheckpointRefused, match="'heads' is also the directory of 'heads/a'"):
        CheckpointStore(store).create(1, {"heads/a": b"1", "heads": b"2"})
    _nothing_written(store)


@given(st.text(alphabet="ab./\\\x00", max_size=12))
def test_an_accepted_path_stays_inside_and_has_one_spelling(relpath: str) -> None:
    try:
        checked = check_relpath(relpath)
    except CheckpointRefused:
        return
    base = Path(tempfile.gettempdir(), "ckpt")
    assert checked == relpath == PurePosixPath(relpath).as_posix()
    assert (base / relpath).resolve().is_relative_to(base.resolve())
    assert (base / relpath).resolve() != base.resolve() and relpath != "manifest.json"


@pytest.mark.parametrize("seq", [-1, 10**20, True, "5", 2.0])
def test_a_bad_seq_is_refused(store: Path, seq: object) -> None:
    with pytest.raises(CheckpointRefused, match="seq") as caught:
        CheckpointStore(store).create(seq, {"x": b""})  # type: ignore[arg-type]
    assert caught.value.fields == {"field": "seq"}
    _nothing_written(store)


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"rows": math.nan}, "meta.rows"),
        ({"nested": {"list": [1, math.inf]}}, "meta.nested.list[1]"),
        ({1: "int key"}, "meta"),
        ({"big": 2**64}, "meta.big"),
        ({"set": {1}}, "meta.set"),
        (["not", "a", "dict"], "meta"),
        ({"text": "lone \ud800 surrogate"}, "meta"),
    ],
)
def test_meta_that_json_cannot_hold_exactly_is_refused(
    store: Path, meta: object, field: str
) -> None:
    with pytest.raises(CheckpointRefused) as caught:
        CheckpointStore(store).create(1, {"x": b""}, meta=meta)  # type: ignore[arg-type]
    assert caught.value.fields == {"field": field}
    assert not (store / "checkpoints").exists() or CheckpointStore(store).list() == []
    assert CheckpointStore(store).strays() == []


def test_a_missing_source_file_or_a_bad_source_is_refused(store: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.parquet"
    with pytest.raises(
        CheckpointRefused, match=r"missing\.parquet of checkpoint file 't'"
    ) as caught:
        CheckpointStore(store).create(1, {"t": missing})
    assert caught.value.fields == {"file": "t", "source": str(missing)}
    with pytest.raises(CheckpointRefused, match="'t' has a str as its content"):
        CheckpointStore(store).create(1, {"t": "text"})  # type: ignore[dict-item]
    _nothing_written(store)


def test_a_callback_that_writes_nothing_is_refused_and_leaves_no_temp(store: Path) -> None:
    checkpoints = CheckpointStore(store)
    with pytest.raises(CheckpointRefused, match="callback for checkpoint file 'late'"):
        checkpoints.create(1, {"early": b"1", "late": lambda path: None})
    assert checkpoints.list() == [] and checkpoints.strays() == []


def test_an_exception_in_a_callback_propagates_and_leaves_no_temp(store: Path) -> None:
    def fail(path: Path) -> None:
        path.write_bytes(b"half")
        raise KeyError("from the caller")

    checkpoints = CheckpointStore(store)
    with pytest.raises(KeyError, match="from the caller"):
        checkpoints.create(1, {"f": fail})
    assert checkpoints.list() == [] and checkpoints.strays() == []


ERRORS = {
    CheckpointNotFound: (LookupError, 5, 404, "checkpoint_not_found"),
    CheckpointRefused: (ValueError, 3, 400, "checkpoint_refused"),
    CheckpointInvalid: (CheckpointError, 7, 500, "checkpoint_invalid"),
    CheckpointWriteFailed: (OSError, 1, 500, "checkpoint_write_failed"),
}


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__name__)
def test_each_error_has_its_builtin_parent_exit_code_and_status(error: type[Exception]) -> None:
    builtin, exit_code, status, code = ERRORS[error]  # type: ignore[index]
    assert issubclass(error, CheckpointError) and issubclass(CheckpointError, LakehouseError)
    assert issubclass(error, builtin)
    instance = error("ckpt-1 is odd", hint="do this", checkpoint="ckpt-1")
    assert (instance.exit_code, instance.http_status, instance.code) == (exit_code, status, code)
    assert instance.to_dict() == {
        "code": code,
        "message": "ckpt-1 is odd",
        "hint": "do this",
        "checkpoint": "ckpt-1",
    }
