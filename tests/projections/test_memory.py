"""Read models over a long tail: its tables do not eat the memory limit meant for queries.

A store whose latest checkpoint is far behind (automatic checkpoints off, or a projection
whose code changed and so starts from genesis) folds many records into the tail. Those
tables are loaded before the connection is locked, so the memory limit bounds only what
queries use beyond them; a tail too big for memory even so is a clear error with a hint,
never a traceback.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import CliRunner

from journal import Draft, Journal
from lakehouse import Store
from lakehouse._follow import Follower
from lakehouse.cli import cli
from projections import ReadModelsTooLarge

TRACES = 20_000  # ~1 KB of text each: far more than the 16 MB limit once in DuckDB
LIMIT = "16MB"


def _write_traces(root: Path, count: int) -> None:
    drafts = []
    for n in range(count):
        text = f"trace {n} " + "lorem ipsum dolor sit amet " * 40
        digest = hashlib.sha256(orjson.dumps({"text": text}, option=orjson.OPT_SORT_KEYS))
        payload = {"tags": [], "content_hash": digest.hexdigest(), "text": text}
        drafts.append(Draft("trace.added", "trace", f"trc_{n:024x}", payload, 1))
    with Journal.open(root, durability="none") as journal:
        for at in range(0, count, 5000):
            journal.append_many(drafts[at : at + 5000])


@pytest.fixture(scope="module")
def long_tail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("long-tail") / "store"
    Store.open(root, create=True).close()
    _write_traces(root, TRACES)
    return root


def test_a_tail_bigger_than_the_memory_limit_is_served(long_tail: Path) -> None:
    with Store.open(long_tail, checkpoint_every=0) as store:
        follower = Follower(store, limits={"memory_limit": LIMIT, "threads": 1})
        try:
            models = follower.models
            assert models.query("SELECT count(*) FROM traces")[0][0] == TRACES
            assert models.query("SELECT count(*) FROM journal")[0][0] == TRACES + 1
            assert models.query("SELECT text FROM traces WHERE uid = ?", [f"trc_{7:024x}"])[0][
                0
            ].startswith("trace 7 ")
        finally:
            follower.models.close()
            for done in follower._folds:
                done.close()


def test_a_tail_that_does_not_fit_at_all_is_a_clear_error(
    long_tail: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lakehouse._readmodels as readmodels

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("could not allocate block of size 256.0 KiB")

    monkeypatch.setattr(readmodels, "ReadModels", out_of_memory)
    with (
        Store.open(long_tail, checkpoint_every=0) as store,
        pytest.raises(ReadModelsTooLarge) as caught,
    ):
        store.read_models()
    assert caught.value.fields == {"seq": TRACES + 1, "records": TRACES + 1}
    assert isinstance(caught.value.__cause__, duckdb.OutOfMemoryException)

    result = CliRunner().invoke(
        cli,
        ["--store", str(long_tail), "sql", "SELECT count(*) FROM traces"],
        env={"LAKEHOUSE_CHECKPOINT_EVERY": "0"},
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: the read models at seq {TRACES + 1} do not fit in memory: "
        f"{TRACES + 1:,} records after the checkpoint they start from\n"
        "hint: write a checkpoint at the head with 'lakehouse checkpoint create' (or "
        "'lakehouse projections rebuild' if a projection changed), then read again\n"
    )
