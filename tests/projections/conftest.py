"""Histories over the four families, and the ways of reading a projection's state.

`HISTORIES` draws a list of operations (trace add/update/revise/retire, session record,
playbook record/retire, dataset ingest/drop, and "checkpoint here" markers); `play` runs
one against a store. A refused command (stale target, session recorded twice with other
content) appends nothing and is simply part of the history. `materialise` folds records
from a checkpoint (or genesis) into `ReadModels`; `state` is the digest of every table and
view a projection contributes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import strategies as st

from checkpoints import Checkpoint
from lakehouse import Store
from lakehouse._errors import CommandError
from lakehouse._readmodels import connect_models, fold
from projections import Projection, ReadModels

Op = tuple[Any, ...]

TEXTS = (
    "load the staff table",
    "validate the roster against payroll",
    "plan the quarterly report",
    "merge duplicate rows",
    "naïve \u2028 unicode line",
)
CONTENTS = ({"step": "load", "n": 1}, {"a": [1, 2]}, {"b": None, "c": True})
TAGS = st.lists(st.sampled_from(["etl", "plan", "x.y", "a:b"]), max_size=2)
TARGET = st.integers(0, 31)  # the n-th known entity, modulo how many there are
# name -> CSV text: staff1 and staff2 share a schema, rates has another
CSVS = {"staff1": "id,name\n1,a\n2,b\n", "staff2": "id,name\n3,c\n", "rates": "id,score\n1,0.5\n"}
DATASET_NAMES = ("staff", "rates")
MAX_CHECKPOINTS = 3

OPS = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(TEXTS), TAGS),
    st.tuples(st.just("add_content"), st.sampled_from(CONTENTS), TAGS),
    st.tuples(st.just("update"), TARGET, st.sampled_from(TEXTS)),
    st.tuples(st.just("revise"), TARGET, st.sampled_from(TEXTS)),
    st.tuples(st.just("retire"), TARGET),
    st.tuples(st.just("session"), st.integers(0, 3), st.integers(0, 2)),
    st.tuples(
        st.just("playbook"),
        st.sampled_from(TEXTS),
        st.lists(st.sampled_from("abcd"), min_size=1, max_size=3, unique=True),
    ),
    st.tuples(st.just("playbook_retire"), TARGET),
    st.tuples(st.just("dataset"), st.sampled_from(DATASET_NAMES), st.sampled_from(sorted(CSVS))),
    st.tuples(st.just("drop"), st.sampled_from(DATASET_NAMES)),
)
CHECKPOINT: Op = ("checkpoint",)


def _joined(runs: list[list[Op]], last: bool) -> list[Op]:
    ops: list[Op] = []
    for run in runs:
        ops += [*run, CHECKPOINT]
    return ops if last else ops[:-1]


# runs of operations with a checkpoint between each two (and maybe one at the end too)
HISTORIES = st.builds(
    _joined,
    st.lists(st.lists(OPS, min_size=1, max_size=8), min_size=1, max_size=MAX_CHECKPOINTS + 1),
    st.booleans(),
)
KEPT = Path(__file__).resolve().parents[2] / ".test-failures"
# memory-backed temp dirs where there are some: hundreds of stores are made and removed
_SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


@contextmanager
def fresh_store(*, fsync: bool = True) -> Iterator[Store]:
    """A new store in a temp dir (hypothesis examples cannot share pytest's tmp_path).

    The journal runs with durability="none"; with ``fsync=False`` checkpoints skip their
    fsyncs too (``os.fsync`` is a no-op meanwhile). Crashes are tests/faults' business:
    here only the logic is checked, and many examples must run in seconds.
    """
    root = Path(tempfile.mkdtemp(prefix="lh-contract-", dir=_SCRATCH))
    with ExitStack() as stack:
        if not fsync:
            stack.enter_context(mock.patch("os.fsync", lambda fd: None))
        store = Store.open(root / "store", create=True, checkpoint_every=0, durability="none")
        try:
            yield store
        except BaseException:
            # one place, overwritten: hypothesis replays the minimal failing example last
            target = KEPT / "projection-contract"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(root, target, ignore=shutil.ignore_patterns("LOCK"))
            print(f"kept failing store at {target}")
            raise
        finally:
            store.close()
            shutil.rmtree(root, ignore_errors=True)


def write_csvs(directory: Path) -> dict[str, Path]:
    """The CSV sources datasets are ingested from, written under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in CSVS.items():
        paths[name] = directory / f"{name}.csv"
        paths[name].write_text(text)
    return paths


def _pick(known: list[str], n: int) -> str | None:
    return known[n % len(known)] if known else None


def play(
    store: Store,
    ops: Sequence[Op],
    *,
    before_checkpoint: Callable[[Store], None] | None = None,
    after_each: Callable[[Store, int], None] | None = None,
) -> list[int]:
    """Run `ops` against `store`; return the seqs of the checkpoints made on the way.

    `before_checkpoint(store)` is called before each checkpoint is made, `after_each(store,
    n)` after the n-th operation that is not a checkpoint (refused or not).

    A checkpoint marker where nothing was appended since the last one is skipped (there
    would be nothing new to checkpoint), and so is any after the `MAX_CHECKPOINTS`th
    (three already give a chain of checkpoints, each made from the one before).
    """
    csvs = write_csvs(store.root.parent / "csv")
    traces: list[str] = []
    playbooks: list[str] = []
    made: list[int] = []
    done = 0
    for op in ops:
        verb = op[0]
        if verb == "checkpoint":
            head = store.journal.head_seq or 0
            if (made and made[-1] == head) or len(made) == MAX_CHECKPOINTS:
                continue
            if before_checkpoint is not None:
                before_checkpoint(store)
            made.append(store.checkpoint().seq)
            continue
        with suppress(CommandError):  # refused: nothing appended, and the history goes on
            _run(store, op, csvs, traces, playbooks)
        if after_each is not None:
            after_each(store, done)
        done += 1
    return made


def _run(
    store: Store, op: Op, csvs: dict[str, Path], traces: list[str], playbooks: list[str]
) -> None:
    verb = op[0]
    if verb == "add":
        traces.append(store.traces.add(text=op[1], tags=op[2]).id)
    elif verb == "add_content":
        traces.append(store.traces.add(content=op[1], tags=op[2]).id)
    elif verb in ("update", "revise", "retire"):
        uid = _pick(traces, op[1])
        if uid is None:
            return
        if verb == "update":
            store.traces.update(uid, text=op[2])
        elif verb == "revise":
            traces.append(store.traces.revise(uid, text=op[2]).id)
        else:
            store.traces.retire(uid, reason="obsolete")
    elif verb == "session":
        attempts = [{"prompt": f"p{i}", "raw": "[]", "verdict": "ok"} for i in range(op[2])]
        store.sessions.record(
            {
                "id": f"s{op[1]}",
                "model": "m1",
                "attempts": attempts,
                "outcome": "success",
                "grounded_in_roster": True,
                "timings": {"total": 0.5},
            }
        )
    elif verb == "playbook":
        playbooks.append(store.playbooks.record(query=op[1], endorsed=op[2], target_count=2).id)
    elif verb == "playbook_retire":
        pid = _pick(playbooks, op[1])
        if pid is not None:
            store.playbooks.retire(pid)
    elif verb == "dataset":
        store.datasets.ingest(op[1], csvs[op[2]], replace=True)
    elif verb == "drop":
        store.datasets.drop(op[1])
    else:
        raise AssertionError(f"unknown operation {op!r}")


def materialise(
    store: Store, base: Checkpoint | None, projections: list[Projection], *, upto: int
) -> ReadModels:
    """`projections` folded from `base` (None: genesis) up to `upto`, served as ReadModels.

    The connection is a cursor on one shared in-memory database rather than a database of
    its own (15 ms each, and the contract suite makes thousands): use one such ReadModels
    at a time, and close it before the next. The readers under test (`open_read_models`,
    checkpoints, rebuilds) still open their own, as in production.
    """
    done = fold(store, base, projections, upto=upto)
    if done.heads.snapshot is not None:
        done.heads.snapshot.close()  # the parts are all the models need
    if not _SHARED:
        _SHARED.append(connect_models(store.root, locked=False))
    # the setting is the database's, and the catalog's views name files relative to the root
    _SHARED[0].execute("SET GLOBAL file_search_path = ?", [str(store.root.absolute())])
    return ReadModels(_SHARED[0].cursor(), done.parts, upto)


_SHARED: list[Any] = []  # the one in-memory database `materialise` takes cursors of


def state(models: ReadModels, projection: Projection | None = None) -> dict[str, str]:
    """The digest of every table and view (of one projection, or of all) in `models`."""
    names = [t.name for p in models.parts.values() for t in p.projection.tables]
    names += list(models.views)
    if projection is not None:
        own = {t.name for t in projection.tables}
        own |= set(projection.views(models)) if projection.name in models.parts else set()
        names = [name for name in names if name in own]
    return {name: models.digest(name) for name in sorted(names)}


def genesis_state(store: Store, projections: list[Projection], *, upto: int) -> dict[str, str]:
    """The state `projections` reach replaying the journal from genesis up to `upto`."""
    models = materialise(store, None, projections, upto=upto)
    try:
        return state(models)
    finally:
        models.close()
