"""Projection benchmark: rebuilds, checkpoints, read-model opens and trace search.

Usage: .venv/bin/python tools/bench/projection_bench.py [--dir PATH] [--records N]
       [--traces N] [--quick] [--repeats N] [--heavy-repeats N] [--profile N]

One run builds a journal of --records records (default 1,000,000; --quick 100,000) across
the families, every payload shaped exactly as the family's Python API writes it, and
reuses it for rows A, B, C, E and F. Rows (compare the ratios, not the absolute figures):

  A   baseline: `for line in open(segment, 'rb'): orjson.loads(line)`, every segment
  B   `rebuild(store, everything=True)` from genesis, records/s       target >= 0.4x A
      B.python  the same rebuild record by record (`bulk=False`), as before issue 15
      B.fold  `fold(store, None, store.projections(), upto=head)` alone
      B.bulk  `bulk_fold(store, store.projections(), upto=head)` alone (lakehouse/_bulk.py:
              the tables in SQL, held in DuckDB, the heads in memory; nothing written)
      B.read  `journal.read(archived=True)` alone: every record CRC-checked, nothing folded
      B.hnsw  the embedding and HNSW builds inside B; its ratio, A's seconds over these,
              is the most B could reach if every other step cost nothing
      B.write the checkpoints written inside B (its resume points and the final one)
  C   open the read models, `SELECT * FROM traces WHERE uid = ?`, close: at 1,000 and at
      --records - 1,000 records of history, both with 1,000 records after the last
      checkpoint                                                     target <= 1.5x
  D   `TraceSearchProjection.search` p50 on warm read models, --traces traces (default
      100,000; --quick 20,000) in the checkpoint and a 1,000-record tail  target <= 5 ms
      D'  p50 of the whole `store.traces.search` call (it reopens the read models)
  E   `create_checkpoint` at --records records: previous checkpoint far behind (at 10%
      of the history), and 1,000 records behind, cold (its base's files hashed) and with
      them known (the cache of verified files); the new bytes it wrote   target <= 1 s
  F   peak RSS of B's child minus a child that only imports the same modules, as a ratio
      to the size of the checkpoint directory B wrote

B, B.fold and E each run in a fresh child process (`--child`), so the parent's heap (the
generator's state) neither slows them nor counts in F; the child's own rusage comes from
os.wait4. They take minutes at full size and run --heavy-repeats times (default 1); E's
far-behind figure is the checkpoint the build makes at --records - 1,000 records, so it
runs once. A, C and D keep the best of --repeats runs (default 3). Children time their
parts by wrapping functions (see `instrument`): the notes under the table say where the
time went. --profile N prints the top N functions of a fold under cProfile.
Everything lives in one temp dir (default: the repo's parent), removed at the end.
Not a test: nothing runs it by default (STYLE.md rule 16).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import importlib
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

import orjson

from journal import Draft, Journal
from lakehouse import Store

REPO = Path(__file__).resolve().parents[2]
TAIL = 1000  # records after the last checkpoint (rows C, D, E)
SMALL = 1000  # records of history of the small store of row C
BATCH = 10_000  # drafts per append_many while building
QUERIES = 200  # timed searches of row D
WHOLE_QUERIES = 20  # timed store.traces.search calls of row D'
QUERY = "SELECT * FROM traces WHERE uid = ?"
IMPORTS = (  # what a rebuild loads (heavy libraries are imported lazily, on first use)
    "duckdb",
    "hnswlib",
    "numpy",
    "pyarrow",
    "lakehouse._rebuild",
    "lakehouse._registry",
    "lakehouse._search",
    "lakehouse.catalog._projection",
    "lakehouse.playbooks._projection",
    "lakehouse.sessions._projection",
    "lakehouse.traces._projection",
    "projections._embed",
    "projections._guard",
    "projections._sql",
    "projections._vectors",
)
SPLIT = ("hnsw", "parquet", "heads", "digests", "segment sha256")  # parts of a checkpoint
# commands per 100 (a revise writes two records: trace.revised and trace.superseded)
MIX = {
    "trace.add": 34,
    "trace.update": 15,
    "trace.revise": 5,
    "trace.retire": 5,
    "session.record": 26,
    "playbook.record": 8,
    "playbook.retire": 2,
}
TRACE_MIX = {"trace.add": 60, "trace.update": 25, "trace.revise": 7, "trace.retire": 8}
COMMON_WORDS = (
    "the a of to and in for with on after before when then is was not no it this that "
    "model agent tool query answer retrieval schema table user error step plan result "
    "latency cost source cited failed retried validated loaded ingest roster call "
    "context"
)
COMMON = COMMON_WORDS.split()
ONSETS = "b c d f g h k l m n p r s t v w z br cl dr fl gr pl st tr sh ch th"
TAGS = [f"{a}{b}" for a in ("eval", "prod", "agent", "etl", "rag") for b in ("", "-v2", ":beta")]
TAGS += ["regression", "latency", "cost", "safety", "grounded", "flaky", "hotfix", "nightly"]
TOOLS = ["sql", "search", "fetch", "python", "validator", "roster", "calendar", "email"]
VERDICTS = ["rejected: 1 inactive", "rejected: no such city", "rejected: over budget"]
NAMES = [f"{first} {last}" for first in COMMON[20:40] for last in COMMON[40:52]]


# -- realistic history -------------------------------------------------------------------


def sha256_json(value: Any) -> str:
    """sha256 of sorted-key JSON: how the families hash content."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Vocabulary:
    """~3,000 pseudo-words in 60 topics (Zipf weights), plus common words: text with topics."""

    def __init__(self, rng: random.Random, size: int = 3000, topics: int = 60) -> None:
        onsets = ONSETS.split()
        vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
        codas = ["", "n", "r", "s", "t", "l", "m", "x", "nd", "st", "ng", "ck"]
        words: dict[str, None] = {}
        while len(words) < size:
            syllables = rng.randint(1, 3)
            word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
            words[word + rng.choice(codas)] = None
        self.words = list(words)
        self.rng = rng
        weights = [1 / (rank + 1) ** 1.1 for rank in range(150)]
        cumulative = [sum(weights[: n + 1]) for n in range(len(weights))]
        self.topics = [(rng.sample(self.words, 150), cumulative) for _ in range(topics)]
        topic_weights = [1 / (rank + 1) ** 0.8 for rank in range(topics)]
        self.topic_cum = [sum(topic_weights[: n + 1]) for n in range(topics)]

    def topic(self) -> int:
        """A topic number, popular topics more often."""
        return self.rng.choices(range(len(self.topics)), cum_weights=self.topic_cum)[0]

    def text(self, topic: int, low: int, high: int) -> str:
        """Words mostly from `topic`, some common ones, a few from another topic."""
        rng, count = self.rng, self.rng.randint(low, high)
        words, cum = self.topics[topic]
        out = rng.choices(words, cum_weights=cum, k=count - count // 3)
        out += rng.choices(COMMON, k=count // 4)
        other_words, other_cum = self.topics[self.topic()]
        out += rng.choices(other_words, cum_weights=other_cum, k=count - len(out))
        rng.shuffle(out)
        return " ".join(out)


class History:
    """A deterministic stream of drafts, payloads shaped exactly as the families' APIs write.

    It keeps the state the API would read from heads (each live trace's rev, body and
    topic; each live playbook's rev), so updates, revisions and retirements name live
    entities at their next rev. Half the changes hit one of the 10,000 newest traces.
    """

    def __init__(self, seed: int = 7, mix: dict[str, int] | None = None) -> None:
        self.rng = random.Random(seed)
        self.vocabulary = Vocabulary(self.rng)
        mix = mix or MIX
        self.commands = list(mix)
        self.command_cum = [sum(list(mix.values())[: n + 1]) for n in range(len(mix))]
        self.live: list[str] = []  # traces that can change (not retired, not superseded)
        self.where: dict[str, int] = {}  # live uid -> its index in self.live
        self.state: dict[str, list[Any]] = {}  # live uid -> [rev, text, content, tags, topic]
        self.traces: list[str] = []  # every trace uid, in order of creation
        self.searchable = 0  # traces in the trace_search table (not superseded)
        self.playbooks: list[list[Any]] = []  # live playbooks: [id, rev]
        self.sessions = 0

    def take(self, count: int) -> list[Draft]:
        """The next `count` drafts."""
        drafts: list[Draft] = []
        while len(drafts) < count:
            command = self.rng.choices(self.commands, cum_weights=self.command_cum)[0]
            room = count - len(drafts)
            drafts += getattr(self, command.replace(".", "_"))(room)
        return drafts

    def query(self) -> str:
        """A search query: a few words of one topic."""
        return self.vocabulary.text(self.vocabulary.topic(), 3, 8)

    # -- traces (lakehouse/traces/_api.py) ------------------------------------------------

    def _uid(self) -> str:
        return f"trc_{self.rng.getrandbits(96):024x}"

    def _body(self, topic: int) -> tuple[str | None, dict[str, Any] | None]:
        """A text, or one time in ten a JSON object, as `trace add` takes them."""
        text = self.vocabulary.text
        if self.rng.random() < 0.9:
            return text(topic, 25, 70), None
        steps = [
            {"tool": self.rng.choice(TOOLS), "ok": self.rng.random() < 0.8, "ms": n * 37 % 900}
            for n in range(self.rng.randint(1, 5))
        ]
        return None, {"query": text(topic, 5, 12), "steps": steps, "answer": text(topic, 8, 25)}

    def _tags(self) -> list[str]:
        return sorted(set(self.rng.sample(TAGS, self.rng.randint(0, 4))))

    @staticmethod
    def _fields(text: str | None, content: dict[str, Any] | None, tags: list[str]) -> dict:
        """TraceBody.fields(): tags, content_hash, then text or content."""
        if text is not None:
            return {"tags": tags, "content_hash": sha256_json({"text": text}), "text": text}
        return {"tags": tags, "content_hash": sha256_json({"content": content}), "content": content}

    def _born(self, uid: str, text: str | None, content: Any, tags: list[str], topic: int) -> None:
        self.where[uid] = len(self.live)
        self.live.append(uid)
        self.state[uid] = [1, text, content, tags, topic]
        self.traces.append(uid)
        self.searchable += 1

    def _pick(self) -> str | None:
        """A live trace: half the time one of the 10,000 newest, else any."""
        if not self.live:
            return None
        if self.rng.random() < 0.5:
            return self.live[-1 - self.rng.randrange(min(10_000, len(self.live)))]
        return self.live[self.rng.randrange(len(self.live))]

    def _gone(self, uid: str) -> list[Any]:
        """Drop `uid` from the live traces (swap with the last); return its state."""
        index, last = self.where.pop(uid), self.live.pop()
        if last != uid:
            self.live[index], self.where[last] = last, index
        return self.state.pop(uid)

    def trace_add(self, room: int) -> list[Draft]:
        """`trace add`: rev 1 of a new trace."""
        uid, topic, tags = self._uid(), self.vocabulary.topic(), self._tags()
        text, content = self._body(topic)
        self._born(uid, text, content, tags, topic)
        return [Draft("trace.added", "trace", uid, self._fields(text, content, tags), 1)]

    def trace_update(self, room: int) -> list[Draft]:
        """`trace update`: new text (tags kept) or, one time in three, new tags (body kept)."""
        uid = self._pick()
        if uid is None:
            return self.trace_add(room)
        state = self.state[uid]
        if self.rng.random() < 2 / 3:
            state[1], state[2] = self._body(state[4])
        else:
            state[3] = self._tags()
        state[0] += 1
        payload = self._fields(state[1], state[2], state[3])
        return [Draft("trace.updated", "trace", uid, payload, state[0])]

    def trace_revise(self, room: int) -> list[Draft]:
        """`trace revise`: a new trace naming its predecessor, which is superseded."""
        uid = self._pick()
        if uid is None or room < 2:
            return self.trace_add(room)
        rev, _, _, tags, topic = self._gone(uid)
        self.searchable -= 1
        new = self._uid()
        text, content = self._body(topic)
        self._born(new, text, content, tags, topic)
        payload = {**self._fields(text, content, tags), "predecessor": uid}
        return [
            Draft("trace.revised", "trace", new, payload, 1),
            Draft("trace.superseded", "trace", uid, {"successor": new}, rev + 1),
        ]

    def trace_retire(self, room: int) -> list[Draft]:
        """`trace retire`: it leaves search results but stays in the table."""
        uid = self._pick()
        if uid is None:
            return self.trace_add(room)
        rev = self._gone(uid)[0]
        reason = self.rng.choice([None, "stale", "wrong answer", "duplicate of a newer trace"])
        return [Draft("trace.retired", "trace", uid, {"reason": reason}, rev + 1)]

    # -- sessions and playbooks -----------------------------------------------------------

    def session_record(self, room: int) -> list[Draft]:
        """`session record`: SessionBody.fields() of a whole coordinator session."""
        rng, self.sessions = self.rng, self.sessions + 1
        sid = f"ses-{self.sessions:08d}-{rng.getrandbits(32):08x}"
        outcome = rng.choices(["success", "max_iter_exhausted", "infra_error"], [7, 2, 1])[0]
        prompt = self.vocabulary.text(self.vocabulary.topic(), 8, 20)
        tries = rng.choices([1, 2, 3, 4], [5, 3, 1, 1])[0]
        attempts = [
            {"prompt": prompt, "raw": ", ".join(rng.sample(NAMES, 3)), "verdict": verdict}
            for verdict in [*rng.choices(VERDICTS, k=tries - 1), "accepted"]
        ]
        if outcome != "success":
            attempts[-1]["verdict"] = rng.choice(VERDICTS)
        total = round(rng.uniform(0.5, 30.0), 3)
        day, minute = rng.randint(1, 28), rng.randrange(24 * 60)
        started = f"2026-01-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"
        body = {
            "model": rng.choice(["coordinator-small", "coordinator-large", "coordinator-xl"]),
            "attempts": attempts,
            "outcome": outcome,
            "grounded_in_roster": rng.random() < 0.8,
            "timings": {"total_s": total, "validate_s": round(total * rng.random() / 4, 3)},
            "started_at": started,
            "ended_at": started if rng.random() < 0.9 else None,
        }
        payload = {**body, "content_hash": sha256_json({"id": sid, **body})}
        return [Draft("session.recorded", "session", sid, payload, 1)]

    def playbook_record(self, room: int) -> list[Draft]:
        """`playbook record`: PlaybookBody.fields(); one in five a `fill` playbook."""
        rng = self.rng
        pid = f"pb_{rng.getrandbits(128):032x}"
        target = rng.randint(1, 5)
        fill = rng.random() < 0.2
        payload = {
            "query": self.vocabulary.text(self.vocabulary.topic(), 6, 15),
            "endorsed": rng.sample(NAMES, rng.randint(1, 2 * target if fill else 6)),
            "target_count": target,
            "fingerprint": f"{rng.getrandbits(64):016x}" if fill else None,
            "kind": "fill" if fill else "answer",
        }
        self.playbooks.append([pid, 1])
        return [Draft("playbook.recorded", "playbook", pid, payload, 1)]

    def playbook_retire(self, room: int) -> list[Draft]:
        """`playbook retire` of a random live playbook."""
        if not self.playbooks:
            return self.playbook_record(room)
        index = self.rng.randrange(len(self.playbooks))
        self.playbooks[index], self.playbooks[-1] = self.playbooks[-1], self.playbooks[index]
        pid, rev = self.playbooks.pop()
        return [Draft("playbook.retired", "playbook", pid, {"reason": "superseded"}, rev + 1)]


def check_faithful(drafts: list[Draft]) -> None:
    """Stop unless each payload equals what the family's input model makes of it."""
    from lakehouse.playbooks._models import PlaybookBody
    from lakehouse.sessions._models import SessionBody
    from lakehouse.traces._models import TraceBody

    for draft in drafts:
        payload = dict(draft.payload)
        if draft.kind in ("trace.added", "trace.updated", "trace.revised"):
            payload.pop("predecessor", None)
            body = {key: payload[key] for key in ("text", "content", "tags") if key in payload}
            made = TraceBody.model_validate(body).fields()
        elif draft.kind == "session.recorded":
            body = {key: value for key, value in payload.items() if key != "content_hash"}
            made = SessionBody.model_validate({"id": draft.id, **body}).fields()
        elif draft.kind == "playbook.recorded":
            made = PlaybookBody.model_validate(payload).check().fields()
        else:
            continue
        expect(made == payload, f"{draft.kind} payload differs from the API's: {payload}")


def expect(condition: bool, message: str) -> None:
    """Stop the run: a figure measured over the wrong work would be worse than none."""
    if not condition:
        raise SystemExit(f"projection_bench: invalid run: {message}")


# -- building stores ---------------------------------------------------------------------


def write(root: Path, history: History, upto: int) -> None:
    """Append drafts from `history` until the journal's head is seq `upto`."""
    with Journal.open(root, create=True, durability="none") as journal:
        head = journal.head_seq or 0
        while head < upto:
            journal.append_many(history.take(min(BATCH, upto - head)))
            head = journal.head_seq or 0
        journal.sync()  # flush now, so writeback does not run during the timed rows
    expect(head == upto, f"the journal head is {head}, not {upto}")


def checkpoint(root: Path) -> None:
    """`create_checkpoint` at the head, untimed (building the small stores)."""
    from lakehouse._rebuild import create_checkpoint

    with Store.open(root, checkpoint_every=0) as store:
        create_checkpoint(store)


def directory_bytes(path: Path) -> int:
    """The total size of the files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def new_bytes(path: Path) -> int:
    """The size of the files under `path` that no other checkpoint shares (one link)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.stat().st_nlink == 1)


# -- the rows ----------------------------------------------------------------------------


def segment_paths(root: Path) -> list[Path]:
    """Every segment file, archived ones included, oldest first."""
    with Journal.open(root) as journal:
        live = [segment.path for segment in journal.segments()[0]]
        return sorted(journal.archive_dir.glob("*.jsonl")) + live


def raw_parse(paths: list[Path], records: int) -> float:
    """Row A: read and parse every line of every segment, nothing else."""
    loads, seen = orjson.loads, 0
    start = perf_counter()
    for path in paths:
        with open(path, "rb") as file:
            for line in file:
                if line.strip():
                    loads(line)
                    seen += 1
    elapsed = perf_counter() - start
    expect(seen == records, f"the raw read saw {seen} records, not {records}")
    return elapsed


def checked_read(root: Path, records: int) -> float:
    """Row B.read: every record through the journal's own reader (CRC, order, batches)."""
    seen = 0
    with Journal.open(root) as journal:
        start = perf_counter()
        for _ in journal.read(archived=True):
            seen += 1
        elapsed = perf_counter() - start
    expect(seen == records, f"the checked read saw {seen} records, not {records}")
    return elapsed


def point_query(store: Store, uid: str) -> float:
    """Row C: open the read models, one point query, close."""
    start = perf_counter()
    models = store.read_models()
    try:
        rows = models.query(QUERY, [uid])
    finally:
        models.close()
    elapsed = perf_counter() - start
    expect(len(rows) == 1, f"{QUERY} found {len(rows)} rows for {uid}")
    return elapsed


def open_and_query(stores: dict[str, tuple[Path, list[str]]], runs: int) -> dict[str, float]:
    """Best seconds of `point_query` per store, the stores interleaved."""
    opened = {name: Store.open(path, checkpoint_every=0) for name, (path, _) in stores.items()}
    times: dict[str, list[float]] = {name: [] for name in stores}
    try:
        for run in range(runs + 1):  # run 0 warms the page cache and imports: not counted
            for name, (_, uids) in stores.items():
                seconds = point_query(opened[name], uids[run % len(uids)])
                if run:
                    times[name].append(seconds)
    finally:
        for store in opened.values():
            store.close()
    return {name: min(values) for name, values in times.items()}


def search_latency(root: Path, queries: list[str]) -> tuple[list[float], list[float]]:
    """Row D: seconds per warm `TraceSearchProjection.search`, and per `store.traces.search`."""
    from lakehouse._search import SearchProjection

    with Store.open(root, checkpoint_every=0) as store:
        models = store.read_models()
        try:
            searcher = models.parts["trace_search"].projection
            assert isinstance(searcher, SearchProjection)
            for query in queries[:5]:  # warm-up: loads the index, embeds the tail
                searcher.search(models, query, 10)
            warm = []
            for query in queries[5:]:
                start = perf_counter()
                hits = searcher.search(models, query, 10)
                warm.append(perf_counter() - start)
                expect(len(hits) == 10, f"search found {len(hits)} hits for {query!r}")
        finally:
            models.close()
        whole = []
        for query in queries[: WHOLE_QUERIES + 1]:
            start = perf_counter()
            rows = store.traces.search(query, k=10)
            whole.append(perf_counter() - start)
            expect(len(rows) == 10, f"store.traces.search found {len(rows)} rows")
    return warm, whole[1:]


def search_store(root: Path, traces: int) -> tuple[History, int]:
    """A trace-only store with `traces` searchable traces in its checkpoint, then TAIL more."""
    history = History(seed=11, mix=TRACE_MIX)
    with Journal.open(root, create=True, durability="none") as journal:
        while history.searchable < traces:
            journal.append_many(history.take(min(BATCH, traces - history.searchable)))
        head = journal.head_seq or 0
    checkpoint(root)
    write(root, history, head + TAIL)
    with Store.open(root, checkpoint_every=0) as store:
        models = store.read_models()
        try:
            count = models.query("SELECT count(*) FROM trace_search")[0][0]
        finally:
            models.close()
    expect(count == history.searchable, f"trace_search has {count} rows, not {history.searchable}")
    return history, count


# -- child processes (rows B, E and F) ---------------------------------------------------


def import_modules() -> None:
    """Everything a rebuild imports, so the import-only child has the same baseline."""
    for name in IMPORTS:
        importlib.import_module(name)


class Stopwatch:
    """Seconds spent in chosen functions, by wrapping them (a rebuild's breakdown)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: Any, attribute: str, label: Callable[..., str]) -> None:
        """Time every call of `owner.attribute` under the label `label(*args)` gives.

        A name the code no longer has is skipped: its time shows up as "other".
        """
        inner = getattr(owner, attribute, None)
        if inner is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                key = label(*args)
                self.spent[key] = self.spent.get(key, 0.0) + perf_counter() - start

        setattr(owner, attribute, timed)

    def watch_gc(self) -> None:
        """Time Python's cyclic garbage collections too (they run inside the other parts)."""
        started = [0.0]

        def callback(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = perf_counter()
                return
            key = f"gc gen{info['generation']}"
            self.spent[key] = self.spent.get(key, 0.0) + perf_counter() - started[0]
            self.spent[key + " runs"] = self.spent.get(key + " runs", 0) + 1

        gc.callbacks.append(callback)


def instrument(watch: Stopwatch) -> None:
    """Time the parts of a checkpoint and of a rebuild (the wrappers cost ~1 us a call)."""
    import lakehouse._readmodels as readmodels
    import lakehouse._rebuild as rebuild
    from checkpoints import Checkpoint
    from lakehouse._heads import Heads
    from lakehouse._search import SearchProjection
    from projections import ReadModels

    watch.wrap(readmodels, "fold", lambda *a: "fold")
    watch.wrap(rebuild, "fold", lambda *a: "fold")
    watch.wrap(rebuild, "bulk_fold", lambda *a: "fold")
    watch.wrap(rebuild, "_publish", lambda s, t, *a: "write" if t is s.checkpoints else "resume")
    watch.wrap(rebuild, "sealed_hashes", lambda *a: "segment sha256")
    watch.wrap(rebuild, "snapshot_files", lambda *a: "heads")
    watch.wrap(Heads, "changed", lambda *a: "heads")
    watch.wrap(SearchProjection, "_build", lambda *a: "hnsw")
    watch.wrap(ReadModels, "write_table", lambda *a: "parquet")
    watch.wrap(ReadModels, "digest", lambda *a: "digests")
    watch.wrap(ReadModels, "__init__", lambda *a: "read models")
    watch.wrap(Checkpoint, "verify", lambda *a: "verify")


def child_rebuild(store: Store, *, bulk: bool = True) -> dict[str, Any]:
    """Row B: `rebuild(store, everything=True)`, from genesis to the head."""
    from lakehouse._rebuild import rebuild

    report = rebuild(store, everything=True, bulk=bulk)
    expect(report.checkpoint is not None, "the rebuild wrote no checkpoint")
    return {"checkpoint": str(report.checkpoint.path if report.checkpoint else "")}


def child_rebuild_python(store: Store) -> dict[str, Any]:
    """Row B.python: `rebuild(store, everything=True, bulk=False)`, record by record."""
    return child_rebuild(store, bulk=False)


def child_fold(store: Store) -> dict[str, Any]:
    """Row B.fold: `fold(store, None, store.projections(), upto=head)`, nothing written."""
    from lakehouse._readmodels import fold

    done = fold(store, None, store.projections(), upto=store.journal.head_seq or 0)
    letters = [letter for part in done.parts for letter in part.changes.dead_letters]
    done.close()
    expect(not letters, f"the fold left dead letters: {letters[:3]}")
    return {}


def child_bulk(store: Store) -> dict[str, Any]:
    """Row B.bulk: `bulk_fold(store, store.projections(), upto=head)`, nothing written."""
    from lakehouse._bulk import bulk_fold

    got = bulk_fold(store, store.projections(), upto=store.journal.head_seq or 0)
    expect(got is not None, "the bulk fold fell back to folding record by record")
    assert got is not None
    got.close()
    return {}


def child_checkpoint(store: Store) -> dict[str, Any]:
    """Row E: `create_checkpoint(store)` at the head, from the latest checkpoint."""
    from lakehouse._rebuild import create_checkpoint

    return {"checkpoint": str(create_checkpoint(store).path)}


CHILDREN: dict[str, Callable[[Store], dict[str, Any]]] = {
    "rebuild": child_rebuild,
    "rebuild-python": child_rebuild_python,
    "fold": child_fold,
    "bulk": child_bulk,
    "checkpoint": child_checkpoint,
}


def child(mode: str, root: Path) -> dict[str, Any]:
    """In a fresh child process: time one piece of work on the store at `root`."""
    import_modules()
    if mode == "imports":
        return {"seconds": 0.0, "spent": {}}  # the baseline of row F: imports, nothing else
    watch = Stopwatch()
    instrument(watch)
    watch.watch_gc()
    with Store.open(root, checkpoint_every=0) as store:
        start = perf_counter()
        report = CHILDREN[mode](store)
        seconds = perf_counter() - start
    return {**report, "seconds": seconds, "spent": watch.spent}


def run_child(mode: str, root: Path) -> dict[str, Any]:
    """Run this script as a fresh child in `mode`: its report, with its peak RSS in bytes.

    os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would give the largest peak
    of all the children so far); ru_maxrss is in KiB on Linux.
    """
    command = [sys.executable, __file__, "--child", mode, "--store", str(root)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO)
    assert process.stdout is not None
    with process.stdout:
        output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    expect(process.returncode == 0, f"the {mode} child failed (exit {process.returncode})")
    report: dict[str, Any] = orjson.loads(output.splitlines()[-1])
    return {**report, "maxrss": usage.ru_maxrss * 1024}


# -- the run -----------------------------------------------------------------------------


def say(message: str) -> None:
    """Progress, on stderr: the full run takes minutes."""
    print(f"projection_bench: {message}", file=sys.stderr, flush=True)


def best(runs: int, work: Callable[[], float]) -> float:
    """The fastest of `runs` timings: on a shared machine noise only adds time."""
    return min(work() for _ in range(runs))


def p50(seconds: list[float]) -> float:
    """The median, in milliseconds."""
    return statistics.median(seconds) * 1000


def fastest(mode: str, root: Path, runs: int, *, remove: bool = False) -> dict[str, Any]:
    """The fastest of `runs` children in `mode`; with `remove`, each one's checkpoint goes.

    Removing the checkpoint a run made puts the store back as the other rows expect it.
    The report keeps the checkpoint's size and the largest peak RSS of all the runs.
    """
    reports = []
    for _ in range(runs):
        report = run_child(mode, root)
        if remove:
            path = Path(report["checkpoint"])
            report["bytes"] = directory_bytes(path)
            report["new_bytes"] = new_bytes(path)
            shutil.rmtree(path)
        reports.append(report)
    return {
        **min(reports, key=lambda report: report["seconds"]),
        "maxrss": max(report["maxrss"] for report in reports),
    }


def row(
    name: str,
    figure: str,
    *,
    ratio: float | None = None,
    unit: str = "",
    target: str = "-",
    ok: bool | None = None,
) -> dict[str, Any]:
    """One line of the table."""
    shown = "-" if ratio is None else f"{ratio:.2f}{unit}"
    result = "-" if ok is None else ("PASS" if ok else "MISS")
    return {"name": name, "figure": figure, "ratio": shown, "target": target, "result": result}


class Run:
    """One benchmark run inside a temp dir: the stores, the rows and the notes."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work, self.args = work, args
        self.records: int = args.records
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.big = work / "big"
        self.far: dict[str, Any] = {}

    def all(self) -> None:
        """Every row, in an order that keeps each store's checkpoints as the rows need."""
        imports = run_child("imports", self.work)
        uids = self.build()
        say("A: raw read + parse")
        paths = segment_paths(self.big)
        a = best(self.args.repeats, lambda: raw_parse(paths, self.records))
        self.rows.append(row("A raw read+parse, all segments", f"{self.records / a:,.0f}/s"))
        checked = best(self.args.repeats, lambda: checked_read(self.big, self.records))
        self.rows.append(
            row(
                "B.read journal.read() alone",
                f"{self.records / checked:,.0f}/s",
                ratio=a / checked,
                unit="x A",
            )
        )
        self.point_rows(uids)
        self.checkpoint_rows()
        self.rebuild_rows(a, imports["maxrss"])
        self.search_rows()

    def build(self) -> list[str]:
        """The big store: checkpoints at 10% and at --records - TAIL, then TAIL records.

        The second checkpoint is row E's far-behind one. Returns trace uids of the history
        (for row C) and lets go of the generator, whose state would slow what follows.
        """
        check_faithful(History(seed=7).take(5000))  # the same stream the store gets
        history, records = History(seed=7), self.records
        say(f"building {records:,} records (checkpoints at {records // 10:,}, {records - TAIL:,})")
        start = perf_counter()
        write(self.big, history, records // 10)
        checkpoint(self.big)
        write(self.big, history, records - TAIL)
        self.far = run_child("checkpoint", self.big)
        write(self.big, history, records)
        say(f"built in {perf_counter() - start:.0f} s")
        settled = history.traces[: len(history.traces) * 9 // 10]  # in the checkpoints
        return settled[:: max(1, len(settled) // 20)]

    def point_rows(self, uids: list[str]) -> None:
        """Row C: a small store and the big one, each with TAIL records after its checkpoint."""
        say("C: open the read models + a point query")
        small, small_history = self.work / "small", History(seed=7)
        write(small, small_history, SMALL)
        checkpoint(small)
        write(small, small_history, SMALL + TAIL)
        stores = {"small": (small, small_history.traces[:20]), "big": (self.big, uids)}
        c = open_and_query(stores, 3 * self.args.repeats)
        ratio = c["big"] / c["small"]
        self.rows += [
            row(f"C open+query+close, {SMALL:,} hist", f"{c['small'] * 1000:.1f} ms"),
            row(
                f"C ... at {self.records - TAIL:,} hist",
                f"{c['big'] * 1000:.1f} ms",
                ratio=ratio,
                unit="x small",
                target="<=1.5x",
                ok=ratio <= 1.5,
            ),
        ]

    def checkpoint_rows(self) -> None:
        """Row E: the build's far-behind checkpoint, and incremental ones timed here: the
        first hashes the files of the checkpoint it builds on, the next finds them in the
        cache of verified files (checkpoints/_verified.py), as a store's cadence does."""
        say("E: create_checkpoint 1,000 records behind (cold, then with its files known)")
        cold = fastest("checkpoint", self.big, 1, remove=True)
        near = fastest("checkpoint", self.big, self.args.heavy_repeats, remove=True)
        far, behind = self.far["seconds"], self.records - TAIL - self.records // 10
        self.rows += [
            row(f"E checkpoint, prev {behind:,} behind", f"{far:.1f} s"),
            row(
                f"E checkpoint, prev {TAIL:,} behind, cold",
                f"{cold['seconds']:.2f} s",
                ratio=cold["seconds"] / far,
                unit="x far",
            ),
            row(
                "E ... its base's files known",
                f"{near['seconds']:.2f} s",
                ratio=near["seconds"] / far,
                unit="x far",
                target="<=1 s",
                ok=near["seconds"] <= 1.0,
            ),
            row(
                "E new bytes on disk, incremental",
                f"{near['new_bytes'] / 2**20:,.1f} MiB",
                ratio=near["new_bytes"] / max(1, near["bytes"]),
                unit="x all",
            ),
        ]
        self.notes.append(f"E far {far:.1f} s: " + breakdown(self.far))
        self.notes.append(f"E incremental, cold {cold['seconds']:.2f} s: " + breakdown(cold))
        self.notes.append(f"E incremental {near['seconds']:.2f} s: " + breakdown(near))

    def rebuild_rows(self, a: float, imports_rss: int) -> None:
        """Rows B, B.fold, B.write and F."""
        records, runs = self.records, self.args.heavy_repeats
        say("B, F: rebuild in a child process")
        b = fastest("rebuild", self.big, runs, remove=True)
        say("B.python: rebuild record by record in a child process")
        python = fastest("rebuild-python", self.big, runs, remove=True)
        say("B.fold: fold in a child process")
        folded = fastest("fold", self.big, runs)
        say("B.bulk: the fold in bulk in a child process")
        bulk = fastest("bulk", self.big, runs)
        spent, peak = b["spent"], b["maxrss"] - imports_rss
        written = spent.get("write", 0.0) + spent.get("resume", 0.0)
        rate, fold_rate = records / b["seconds"], records / folded["seconds"]
        self.rows += [
            row(
                "B rebuild(everything=True)",
                f"{rate:,.0f}/s",
                ratio=rate * a / records,
                unit="x A",
                target=">=0.4x A",
                ok=rate * a / records >= 0.4,
            ),
            row(
                "B.python rebuild record by record",
                f"{records / python['seconds']:,.0f}/s",
                ratio=a / python["seconds"],
                unit="x A",
            ),
            row(
                "B.fold fold() alone",
                f"{fold_rate:,.0f}/s",
                ratio=fold_rate * a / records,
                unit="x A",
            ),
            row(
                "B.bulk bulk_fold() alone",
                f"{records / bulk['seconds']:,.0f}/s",
                ratio=a / bulk["seconds"],
                unit="x A",
            ),
            row(
                "B.hnsw index builds inside B",
                f"{spent.get('hnsw', 0.0):.1f} s",
                ratio=a / max(spent.get("hnsw", 0.0), 1e-9),
                unit="x A max",
            ),
            row(
                "B.write checkpoints inside B",
                f"{written:.1f} s",
                ratio=written / b["seconds"],
                unit=" of B",
            ),
            row(
                "F rebuild peak RSS - imports",
                f"{peak / 2**20:,.0f} MiB",
                ratio=peak / b["bytes"],
                unit="x ckpt",
            ),
        ]
        self.notes.append(f"B rebuild {b['seconds']:.1f} s: " + breakdown(b))
        self.notes.append(
            f"B.python {python['seconds']:.1f} s (peak RSS {python['maxrss'] / 2**20:,.0f} MiB): "
            + breakdown(python)
        )
        self.notes.append(
            f"B.fold {folded['seconds']:.1f} s, of which cyclic gc: {collections(folded['spent'])}"
        )
        self.notes.append(
            f"F: rebuild child {b['maxrss'] / 2**20:,.0f} MiB, import-only child "
            f"{imports_rss / 2**20:,.0f} MiB, fold-only child {folded['maxrss'] / 2**20:,.0f} "
            f"MiB, bulk-fold child {bulk['maxrss'] / 2**20:,.0f} MiB; checkpoint dir "
            f"{b['bytes'] / 2**20:,.1f} MiB"
        )

    def search_rows(self) -> None:
        """Row D: warm search latency, and the whole `store.traces.search` call."""
        say(f"D: a store of {self.args.traces:,} searchable traces")
        root = self.work / "search"
        history, count = search_store(root, self.args.traces)
        queries = [history.query() for _ in range(QUERIES + 5)]
        del history
        warm, whole = search_latency(root, queries)
        self.rows += [
            row(
                f"D search p50, {count:,} traces",
                f"{p50(warm):.2f} ms",
                target="<=5 ms",
                ok=p50(warm) <= 5,
            ),
            row("D' store.traces.search p50", f"{p50(whole):.1f} ms"),
        ]
        ninety = statistics.quantiles(warm, n=10)[-1] * 1000
        self.notes.append(f"D: p90 {ninety:.2f} ms over {len(warm)} queries; D' over {len(whole)}")

    def profile(self, top: int) -> None:
        """cProfile of one fold from genesis of the big store: the top functions."""
        from lakehouse._readmodels import fold

        profiler = cProfile.Profile()
        with Store.open(self.big, checkpoint_every=0) as store:
            head, chosen = store.journal.head_seq or 0, store.projections()
            profiler.runcall(fold, store, None, chosen, upto=head).close()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        for order in ("cumulative", "tottime"):
            print(f"\nfold() from genesis, {self.records:,} records, top {top} by {order}:")
            stats.sort_stats(order).print_stats(top)


def breakdown(report: dict[str, Any]) -> str:
    """Where a child's seconds went: the outer steps, inside the checkpoint writes, and gc."""
    spent = report["spent"]
    outer = {
        "verify checkpoints": spent.get("verify", 0.0),
        "fold": spent.get("fold", 0.0),
        "read models (Arrow, DuckDB)": spent.get("read models", 0.0),
        "resume points": spent.get("resume", 0.0),
        "checkpoint": spent.get("write", 0.0),
    }
    outer["other"] = report["seconds"] - sum(outer.values())
    writing = outer["resume points"] + outer["checkpoint"]
    inner = {key: spent.get(key, 0.0) for key in SPLIT}
    inner["manifest, sha256, fsync"] = writing - sum(inner.values())
    return (
        f"{seconds(outer)}; inside resume points + checkpoint: {seconds(inner)}; "
        f"cyclic gc, spread over all of these: {collections(spent)}"
    )


def collections(spent: dict[str, float]) -> str:
    """The seconds and runs of the garbage collector, by generation."""
    return ", ".join(
        f"gen{n} {spent.get(f'gc gen{n}', 0.0):.1f} s ({spent.get(f'gc gen{n} runs', 0):,.0f})"
        for n in range(3)
    )


def seconds(parts: dict[str, float]) -> str:
    """'label 1.2 s, ...' for the parts of 0.05 s or more, biggest first."""
    ranked = sorted(parts.items(), key=lambda item: -item[1])
    return ", ".join(f"{key} {value:.1f} s" for key, value in ranked if value >= 0.05)


def print_table(rows: list[dict[str, Any]], notes: list[str]) -> None:
    """The rows as a table, then the notes."""
    print(f"{'row':<40}{'figure':>14}  {'ratio':<13}{'target':<10}result")
    for r in rows:
        print(f"{r['name']:<40}{r['figure']:>14}  {r['ratio']:<13}{r['target']:<10}{r['result']}")
    for note in notes:
        print(f"- {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--dir", type=Path, help="where to make the temp dir (default: the repo's parent)")
    add("--records", type=int, help="records of the big journal (default 1,000,000)")
    add("--traces", type=int, help="searchable traces of row D (default 100,000)")
    add("--repeats", type=int, default=3, help="runs of the light rows; the fastest counts")
    add("--heavy-repeats", type=int, default=1, help="runs of rows B, B.fold and E")
    add("--quick", action="store_true", help="100,000 records and 20,000 traces")
    add("--profile", type=int, default=0, metavar="N", help="print the fold's top N functions")
    add("--child", choices=["imports", *CHILDREN], help=argparse.SUPPRESS)
    add("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(orjson.dumps(child(args.child, args.store)).decode())
        return 0
    args.records = args.records or (100_000 if args.quick else 1_000_000)
    args.traces = args.traces or (20_000 if args.quick else 100_000)
    if args.records < 10 * TAIL or min(args.traces, args.repeats, args.heavy_repeats) < 1:
        parser.error(f"--records must be at least {10 * TAIL:,}; the others at least 1")
    work = Path(tempfile.mkdtemp(prefix="projection-bench-", dir=args.dir or REPO.parent))
    start, load = perf_counter(), os.getloadavg()
    try:
        run = Run(work, args)
        run.all()
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, dir {work.parent}")
        print(
            f"load average at start {load[0]:.2f}, at end {os.getloadavg()[0]:.2f}; "
            f"{perf_counter() - start:.0f} s in all"
        )
        print_table(sorted(run.rows, key=lambda item: item["name"][0]), sorted(run.notes))
        if args.profile:
            run.profile(args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
