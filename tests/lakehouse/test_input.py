"""What a command accepts: bounded integers, exact JSON numbers, the caller's own values.

Every integer that reaches a record fits the column its read model gives it (BIGINT);
a JSON number that cannot be kept exactly is refused naming its path, never changed;
and the Python API hands the models what the caller passed, so a string where a list
belongs is refused rather than split into characters. Every refusal appends nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lakehouse import InvalidInput, Store
from lakehouse.cli import cli
from tests.lakehouse._util import head_seq

BIGINT_MAX = 2**63 - 1
SESSION: dict[str, Any] = {
    "id": "s-1",
    "model": "m",
    "attempts": [{"prompt": "p", "raw": "r", "verdict": "ok"}],
    "outcome": "success",
    "grounded_in_roster": True,
    "timings": {"total_s": 1.5},
}


def run(store: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def refused(store: Path, call: Any, field: str) -> InvalidInput:
    """`call()` raises InvalidInput naming `field` and appends nothing."""
    before = head_seq(store)
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.fields["field"] == field, caught.value.message
    assert head_seq(store) == before
    return caught.value


# -- item 6: the model validates what the caller passed ---------------------------------


def test_a_string_where_a_list_belongs_is_refused_not_split(lake: Store, store: Path) -> None:
    error = refused(
        store, lambda: lake.playbooks.record(query="q", endorsed="abc", target_count=1), "endorsed"
    )
    assert "valid list" in error.message
    refused(store, lambda: lake.traces.add(text="t", tags="etl"), "tags")
    uid = lake.traces.add(text="t").id
    refused(store, lambda: lake.traces.update(uid, tags="etl"), "tags")
    refused(store, lambda: lake.traces.revise(uid, tags="etl"), "tags")
    # what the signatures promise still works: lists and tuples
    added = lake.traces.add(text="u", tags=("b", "a"))
    assert added.head is not None and added.head["tags"] == ["a", "b"]
    assert lake.playbooks.record(query="q", endorsed=("ada",), target_count=1).rev == 1


@pytest.mark.parametrize("if_rev", [True, "1", 1.0, -1, 2**63])
def test_if_rev_is_a_rev_not_something_like_one(lake: Store, store: Path, if_rev: Any) -> None:
    uid = lake.traces.add(text="t").id
    pid = lake.playbooks.record(query="q", endorsed=["a"], target_count=1).id
    refused(store, lambda: lake.traces.update(uid, text="u", if_rev=if_rev), "if_rev")
    refused(store, lambda: lake.traces.retire(uid, if_rev=if_rev), "if_rev")
    refused(store, lambda: lake.playbooks.retire(pid, if_rev=if_rev), "if_rev")
    refused(store, lambda: lake.sessions.record(SESSION, if_rev=if_rev), "if_rev")
    refused(store, lambda: lake.datasets.drop("staff", if_rev=if_rev), "if_rev")


def test_an_idempotency_key_is_a_string(lake: Store, store: Path) -> None:
    refused(store, lambda: lake.traces.add(text="t", idempotency_key=5), "idempotency_key")  # type: ignore[arg-type]
    refused(store, lambda: lake.sessions.record(SESSION, idempotency_key=""), "idempotency_key")


def test_a_dataset_file_must_be_a_path(lake: Store, store: Path) -> None:
    refused(store, lambda: lake.datasets.ingest("staff", 5), "file")  # type: ignore[arg-type]
    refused(store, lambda: lake.datasets.register("staff", b"x.parquet"), "path")  # type: ignore[arg-type]


# -- item 3a: every integer fits its column ---------------------------------------------


def test_target_count_fits_a_bigint_at_the_command_line(store: Path) -> None:
    record = ("playbook", "record", "--query", "q", "--endorsed", "a", "--target-count")
    before = head_seq(store)
    code, out, err = run(store, *record, str(BIGINT_MAX + 1))
    assert (code, out) == (3, "")
    assert err.startswith("error: playbook record: target_count: Input should be less than")
    assert head_seq(store) == before
    assert run(store, *record, str(BIGINT_MAX))[0] == 0
    code, out, err = run(store, "--json", "sql", "SELECT target_count FROM playbooks")
    assert (code, err) == (0, "")
    assert json.loads(out)["rows"] == [[BIGINT_MAX]]


def test_if_rev_beyond_a_bigint_is_invalid_input_not_a_conflict(store: Path) -> None:
    code, out, _ = run(store, "--json", "trace", "add", "--text", "t")
    uid = json.loads(out)["id"]
    code, _, err = run(store, "trace", "update", uid, "--text", "u", "--if-rev", str(2**63))
    assert code == 3 and err.startswith("error: trace update: if_rev: Input should be less")


def test_a_timing_that_a_double_cannot_hold_exactly_is_refused(lake: Store, store: Path) -> None:
    for value in (2**70 + 1, 10**400):
        session = {**SESSION, "timings": {"total_s": value}}
        error = refused(store, lambda s=session: lake.sessions.record(s), "timings.total_s")
        assert "exactly" in error.message
    # an integer a double holds exactly is a timing like any other
    assert lake.sessions.record({**SESSION, "timings": {"total_s": 2**70}}).rev == 1


# -- item 5: a JSON number is kept exactly or refused -----------------------------------


@pytest.mark.parametrize("number", [str(2**64), str(2**70), str(-(2**63) - 1), "1e400", "-1e400"])
def test_trace_content_numbers_beyond_json_are_refused(store: Path, number: str) -> None:
    before = head_seq(store)
    content = f'{{"step": {{"n": [1, {number}]}}}}'
    code, out, err = run(store, "trace", "add", "--content", content)
    assert (code, out) == (3, "")
    first, hint = err.splitlines()
    assert first.startswith(f"error: --content: step.n[1]: the number {number} ")
    assert hint.startswith("hint: ") and "string" in hint
    assert head_seq(store) == before


@pytest.mark.parametrize("number", [str(2**64), "1e400", str(2**70 + 1)])
def test_session_file_numbers_are_refused_from_a_file_and_stdin(
    store: Path, tmp_path: Path, number: str
) -> None:
    text = json.dumps({**SESSION, "timings": {"total_s": "N"}}).replace('"N"', number)
    path = tmp_path / "session.json"
    path.write_text(text)
    before = head_seq(store)
    for args, stdin in (([str(path)], None), (["-"], text)):
        code, out, err = run(store, "session", "record", *args, stdin=stdin)
        assert (code, out) == (3, ""), err
        assert "timings.total_s" in err.splitlines()[0]
    assert head_seq(store) == before


def test_numbers_json_holds_are_kept_exactly(store: Path) -> None:
    content = {"u64": 2**64 - 1, "i64": -(2**63), "big": 1.5e300, "tiny": 5e-324}
    code, out, err = run(store, "--json", "trace", "add", "--content", json.dumps(content))
    assert (code, err) == (0, "")
    code, out, _ = run(store, "--json", "trace", "get", json.loads(out)["id"])
    assert json.loads(out)["content"] == content


def test_the_python_api_names_the_path_of_a_number_json_cannot_hold(
    lake: Store, store: Path
) -> None:
    error = refused(store, lambda: lake.traces.add(content={"a": [{"b": 2**64}]}), "content")
    assert error.message.startswith("trace add: content: a[0].b: the number 18446744073709551616 ")
    assert "string" in (error.hint or "")
