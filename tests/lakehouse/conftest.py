"""Fixtures the family tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse import Store


@pytest.fixture
def lake(store: Path) -> Iterator[Store]:
    """A `Store` on the fresh store of the `store` fixture, closed after the test."""
    opened = Store.open(store)
    yield opened
    opened.close()
