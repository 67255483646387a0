"""Whatever a command accepts, every read model folds and serves, exactly as it was given.

Hypothesis drives the Python API of every family with values at and beyond each bound
(integers around 2**53, 2**63 and 2**64, floats including NaN and infinities, unicode,
strings where lists belong, tuples where they are allowed). A command either refuses with
InvalidInput, Conflict or NotFound and appends nothing, or succeeds; then the read models
are opened, every table is read in full, nothing may have gone to a dead letter or a
stop, and what the read models hold is what was given. A checkpoint is built every few
examples and at the end, so the Parquet and HNSW path is folded too. One store serves a
whole run (durability "none": crashes are tests/faults' business).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse import Conflict, InvalidInput, NotFound, Outcome, Store

EDGES = [0, 1, -1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64]
INTS = st.one_of(st.sampled_from(EDGES), st.integers())
NUMBERS = st.one_of(INTS, st.floats(), st.sampled_from([math.inf, -math.inf, math.nan, 1e308]))
TEXT = st.text(max_size=12)
NAMES = st.one_of(st.lists(TEXT, max_size=3), st.lists(TEXT, max_size=3).map(tuple), TEXT)
TAGS = st.one_of(
    st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,8}", fullmatch=True), max_size=3),
    NAMES,
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
IF_REV = st.one_of(st.none(), st.sampled_from([0, 1, 2, True, 2**63 - 1, 2**63, -1]))
Call = Callable[[Store], Outcome]


def _trace(text: Any, content: Any, tags: Any, if_rev: Any) -> Call:
    def call(store: Store) -> Outcome:
        outcome = store.traces.add(text=text, content=content, tags=tags, if_rev=if_rev)
        assert outcome.head is not None
        assert (outcome.head["text"], outcome.head["tags"]) == (text, sorted(set(tags)))
        assert _same(outcome.head["content"], content)  # kept exactly, or refused
        return outcome

    return call


def _update(text: Any, tags: Any, if_rev: Any) -> Call:
    def call(store: Store) -> Outcome:
        live = store.traces.list()
        uid = live[-1]["uid"] if live else "trc_missing"
        return store.traces.update(uid, text=text, tags=tags, if_rev=if_rev)

    return call


def _playbook(query: Any, endorsed: Any, count: Any, kind: Any, fingerprint: Any) -> Call:
    def call(store: Store) -> Outcome:
        outcome = store.playbooks.record(
            query=query, endorsed=endorsed, target_count=count, kind=kind, fingerprint=fingerprint
        )
        assert outcome.head is not None
        given = (query, list(endorsed), count, fingerprint)
        held = ("query", "endorsed", "target_count", "fingerprint")
        assert tuple(outcome.head[key] for key in held) == given
        assert type(outcome.head["target_count"]) is int
        return outcome

    return call


def _session(sid: str, attempts: Any, timings: Any, if_rev: Any) -> Call:
    session = {
        "id": sid,
        "model": "m",
        "attempts": attempts,
        "outcome": "success",
        "grounded_in_roster": True,
        "timings": timings,
    }

    def call(store: Store) -> Outcome:
        outcome = store.sessions.record(session, if_rev=if_rev)
        assert outcome.head is not None
        assert outcome.head["timings"] == timings  # numerically: an int is its exact double
        return outcome

    return call


def _dataset(csv: Path, name: Any, if_rev: Any, drop: bool) -> Call:
    if drop:
        return lambda store: store.datasets.drop(name, if_rev=if_rev)
    return lambda store: store.datasets.ingest(name, csv, if_rev=if_rev, replace=True)


ATTEMPT = st.fixed_dictionaries({"prompt": TEXT, "raw": TEXT, "verdict": TEXT})
COMMANDS = st.one_of(
    st.builds(
        _trace,
        st.one_of(st.none(), TEXT),
        st.one_of(st.none(), st.dictionaries(TEXT, JSON, max_size=3)),
        TAGS,
        IF_REV,
    ),
    st.builds(_update, st.one_of(st.none(), TEXT), st.one_of(st.none(), TAGS), IF_REV),
    st.builds(
        _playbook,
        TEXT,
        NAMES,
        INTS,
        st.sampled_from(["answer", "fill"]),
        st.one_of(st.none(), TEXT),
    ),
    st.builds(
        _session,
        st.from_regex(r"[A-Za-z0-9_.:-]{1,8}", fullmatch=True),
        st.lists(ATTEMPT, max_size=2),
        st.dictionaries(TEXT, NUMBERS, max_size=2),
        IF_REV,
    ),
)


class Run:
    """One store for a whole hypothesis run (examples build on what earlier ones wrote)."""

    def __init__(self, root: Path, csv: Path) -> None:
        self.store = Store.open(root, create=True, durability="none", checkpoint_every=0)
        self.csv = csv
        self.examples = 0


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    root = Path(tempfile.mkdtemp(prefix="lakehouse-inputs-"))
    csv = root / "staff.csv"
    csv.write_text("name,n\nada,1\ngrace,9223372036854775807\n")
    state = Run(root / "store", csv)
    yield state
    try:
        state.store.checkpoint()  # whatever the run accepted, a checkpoint holds it
        _serve_all(state.store)
    finally:
        state.store.close()
        shutil.rmtree(root, ignore_errors=True)


def _serve_all(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, with no dead letter and no stop anywhere."""
    models = store.read_models()
    try:
        assert models.stopped == {}
        letters = {
            n: p.changes.dead_letters for n, p in models.parts.items() if p.changes.dead_letters
        }
        assert letters == {}
        out = {}
        for name in models.tables:
            with models.cursor() as cursor:
                cursor.execute(f'SELECT * FROM "{name}"')
                columns = [column[0] for column in cursor.description or ()]
                out[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return out
    finally:
        models.close()


def _same(got: Any, want: Any) -> bool:
    """Equal as JSON stores it: NaN never gets in, ints stay ints, a tuple is its list."""
    return json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def _faithful(outcome: Outcome, tables: dict[str, list[dict[str, Any]]]) -> None:
    """The accepted command's entity is in its table as the heads hold it."""
    if not outcome.appended or outcome.head is None:
        return
    head = outcome.head
    if outcome.entity == "playbook":
        (row,) = [r for r in tables["playbooks"] if r["id"] == outcome.id]
        assert (row["target_count"], row["endorsed"], row["query"]) == (
            head["target_count"],
            head["endorsed"],
            head["query"],
        )
    elif outcome.entity == "trace":
        (row,) = [r for r in tables["traces"] if r["uid"] == outcome.id]
        content = None if row["content"] is None else json.loads(row["content"])
        assert (row["text"], row["tags"]) == (head["text"], head["tags"])
        assert _same(content, head["content"])
    elif outcome.entity == "session":
        (row,) = [r for r in tables["sessions"] if r["id"] == outcome.id]
        assert _same(json.loads(row["timings"]), head["timings"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    commands=st.lists(COMMANDS, min_size=1, max_size=3),
    dataset=st.one_of(
        st.none(),
        st.builds(lambda *a: a, st.sampled_from(["staff", "x y", "9a", ""]), IF_REV, st.booleans()),
    ),
)
def test_what_a_command_accepts_every_read_model_folds_and_serves(
    run: Run, commands: list[Call], dataset: tuple[Any, Any, bool] | None
) -> None:
    store = run.store
    if dataset is not None:
        commands = [*commands, _dataset(run.csv, *dataset)]
    accepted = []
    for call in commands:
        before = store.journal.head_seq
        try:
            accepted.append(call(store))
        except (InvalidInput, Conflict, NotFound):
            assert store.journal.head_seq == before  # a refusal appends nothing
    tables = _serve_all(store)
    latest = {(outcome.entity, outcome.id): outcome for outcome in accepted}
    for outcome in latest.values():
        _faithful(outcome, tables)
    store.traces.search("a", k=3)
    store.playbooks.search("a", k=3)
    run.examples += 1
    if run.examples % 10 == 0:
        store.checkpoint()
