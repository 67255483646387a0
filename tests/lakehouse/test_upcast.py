"""Schema versions: an old record is upcast before it is folded; a newer one is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

from journal import Journal, Record
from lakehouse import CommandError
from lakehouse._family import Family, Head, Kind
from lakehouse._heads import Heads


def _v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    payload["title"] = payload.pop("name")  # v2 renamed name -> title
    return payload


def _v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "tags": payload.get("tags", [])}  # v3 made tags required


class Notes(Family):
    name = "notes"
    entity = "note"
    kinds: ClassVar[dict[str, Kind]] = {
        "note.added": Kind("note.added", version=3, upcasters={1: _v1_to_v2, 2: _v2_to_v3})
    }

    def fold(self, head: Head | None, record: Record, payload: dict[str, Any]) -> Head | None:
        return {"title": payload["title"], "tags": payload["tags"], "v": record.v}


def _heads(store: Path) -> Heads:
    heads = Heads([Notes()])
    with Journal.open(store) as journal:
        heads.advance(journal.read())
    return heads


def test_records_of_every_old_version_fold_as_today(store: Path) -> None:
    with Journal.open(store) as journal:
        journal.append(kind="note.added", entity="note", id="a", payload={"name": "one"}, v=1)
        journal.append(kind="note.added", entity="note", id="b", payload={"title": "two"}, v=2)
        journal.append(
            kind="note.added", entity="note", id="c", payload={"title": "3", "tags": ["x"]}, v=3
        )
    heads = _heads(store)
    assert heads.get("note", "a") == {"title": "one", "tags": [], "v": 1}
    assert heads.get("note", "b") == {"title": "two", "tags": [], "v": 2}
    assert heads.get("note", "c") == {"title": "3", "tags": ["x"], "v": 3}
    with Journal.open(store) as journal:  # upcasting never changes what is stored
        stored = [record.payload for record in journal.read() if record.entity == "note"]
    assert stored[0] == {"name": "one"}


def test_a_record_newer_than_this_code_is_refused_with_a_hint(store: Path) -> None:
    with Journal.open(store) as journal:
        journal.append(kind="note.added", entity="note", id="a", payload={"title": "x"}, v=4)
    with pytest.raises(CommandError, match="schema version 4") as caught:
        _heads(store)
    assert "upgrade" in (caught.value.hint or "")


def test_a_missing_upcaster_is_named(store: Path) -> None:
    kind = Kind("note.added", version=3, upcasters={2: _v2_to_v3})
    with Journal.open(store) as journal:
        record = journal.append(kind="note.added", entity="note", id="a", payload={}, v=1)
    with pytest.raises(
        CommandError, match=re.escape("no upcaster for note.added from schema version 1")
    ):
        kind.upcast(record)
