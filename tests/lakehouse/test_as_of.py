"""Reading heads as of a seq: `trace get`, `trace history` and `session show` with
`--as-of-seq N` (the Python API's `as_of=N`) give what the head read gave when the journal
ended at N, from the nearest checkpoint at or before N plus the records up to N, the
archived segments included; N beyond the head is invalid input, exit 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lakehouse import InvalidInput, NotFound, Store
from lakehouse.cli import cli
from tests.lakehouse._util import SESSION

PAD = "x" * 400  # a few records fill a small segment: there are many to archive


class History:
    """A store built step by step, with what every read gave after each step."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[tuple[int, dict[str, Any], dict[str, Any]]] = []  # seq, gets, histories
        self.uids: list[str] = []
        options: dict[str, Any] = {"segment_bytes": 4096, "checkpoint_every": 0}
        with Store.open(root, create=True, durability="none", **options) as store:
            self.first = store.traces.add(text=f"v1 {PAD}", tags=["a"]).id
            self._note(store, self.first)
            self.other = store.traces.add(text=f"other {PAD}").id
            self._note(store, self.other)
            store.traces.update(self.first, text=f"v2 {PAD}")
            self._note(store)
            self.session_seq = store.sessions.record(SESSION).seq
            self._note(store)
            store.checkpoint()  # a checkpoint between the reads
            store.traces.update(self.first, tags=["a", "b"])
            self._note(store)
            self.revised = store.traces.revise(self.first, text=f"v3 {PAD}").id
            self._note(store, self.revised)
            store.traces.retire(self.other, reason="old")
            self._note(store)
            latest = store.checkpoint().seq
            self.archived = store.journal.archive(upto=latest)
            self.first_live = store.journal.segments()[0][0].first_seq
            store.traces.update(self.revised, text=f"v4 {PAD}")
            self._note(store)
            self.head = store.journal.head_seq or 0

    def _note(self, store: Store, *new: str) -> None:
        """What every trace read gives now, at the journal's head."""
        self.uids += new
        gets = {uid: store.traces.get(uid) for uid in self.uids}
        histories = {uid: store.traces.history(uid) for uid in self.uids}
        self.seen.append((store.journal.head_seq or 0, gets, histories))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> History:
    return History(tmp_path_factory.mktemp("as-of") / "store")


def test_every_earlier_read_is_given_again_as_of_its_seq(built: History) -> None:
    assert built.archived and built.first_live > built.seen[0][0]  # early seqs: archived
    with Store.open(built.root, checkpoint_every=0) as store:
        for seq, gets, histories in built.seen:
            for uid, head in gets.items():
                assert store.traces.get(uid, as_of=seq) == head, (uid, seq)
                assert store.traces.history(uid, as_of=seq) == histories[uid], (uid, seq)
        assert store.traces.get(built.first) == built.seen[-1][1][built.first]


def test_as_of_before_an_entity_existed_is_not_found(built: History) -> None:
    with Store.open(built.root, checkpoint_every=0) as store:
        before = built.session_seq - 1
        with pytest.raises(NotFound, match=f"no session 's-1' as of seq {before}"):
            store.sessions.show("s-1", as_of=before)
        assert store.sessions.show("s-1", as_of=built.session_seq) == store.sessions.show("s-1")
        with pytest.raises(NotFound, match="as of seq 0"):
            store.traces.get(built.first, as_of=0)
        with pytest.raises(InvalidInput, match=f"whose head is seq {built.head}"):
            store.traces.get(built.first, as_of=built.head + 1)


def run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(root), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_reads_as_of_a_seq(built: History) -> None:
    seq, gets, _ = built.seen[2]  # after the first update, long archived
    code, out, err = run(built.root, "trace", "get", built.first, "--as-of-seq", str(seq), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == gets[built.first]
    early, _, histories = built.seen[1]
    code, out, _ = run(
        built.root, "--json", "trace", "history", built.first, "--as-of-seq", str(early)
    )
    assert json.loads(out) == histories[built.first]
    code, out, _ = run(built.root, "session", "show", "s-1", "--as-of-seq", str(seq))
    assert (code, out) == (5, "")
    code, out, _ = run(
        built.root, "session", "show", "s-1", "--as-of-seq", str(built.session_seq), "--json"
    )
    assert (code, json.loads(out)["id"]) == (0, "s-1")
    beyond = str(built.head + 1)
    for verb in (["trace", "get", built.first], ["trace", "history", built.first]):
        code, out, err = run(built.root, *verb, "--as-of-seq", beyond)
        assert (code, out) == (3, "")
        assert err == (
            f"error: --as-of-seq {beyond} is outside the journal, whose head is seq "
            f"{built.head}\nhint: pass a seq from 0 to {built.head}\n"
        )
    code, _, err = run(built.root, "session", "show", "s-1", "--as-of-seq", beyond)
    assert code == 3
