"""A search folds only the two projections it reads, not all seven."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import lakehouse._readmodels as readmodels
from lakehouse import Store


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (lambda store: store.traces.search("penguins"), {"traces", "trace_search"}),
        (lambda store: store.playbooks.search("penguins"), {"playbooks", "playbook_search"}),
    ],
    ids=["trace search", "playbook search"],
)
def test_a_search_folds_only_its_own_projections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, search: Any, expected: set[str]
) -> None:
    folded: list[set[str]] = []
    fold_all = readmodels.fold_all

    def spy(store: Any, projections: list[Any], **options: Any) -> Any:
        folded.append({projection.name for projection in projections})
        return fold_all(store, projections, **options)

    monkeypatch.setattr(readmodels, "fold_all", spy)
    with Store.open(tmp_path / "s", create=True, checkpoint_every=0) as store:
        store.traces.add(text="emperor penguins huddle in winter")
        search(store)
        store.read_models().close()  # the whole read models still fold every projection
    assert folded[0] == expected
    assert len(folded[1]) == len(store.projections()) >= 7


def test_only_names_a_projection_that_exists(tmp_path: Path) -> None:
    with (
        Store.open(tmp_path / "s", create=True) as store,
        pytest.raises(ValueError, match="tracez"),
    ):
        store.read_models(only=("tracez",))
