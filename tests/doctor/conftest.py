"""Fixtures of the doctor tests: one built store per session, copied for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doctor._util import Built, build, copy
from tests.faults.conftest import spawn  # noqa: F401 - the appender fixture, shared


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The store every test starts from (built once: see tests/doctor/_util.py)."""
    return build(tmp_path_factory.mktemp("template") / "store")


@pytest.fixture
def built(template: Built, tmp_path: Path) -> Built:
    """A fresh copy of the template store for one test to damage."""
    return copy(template, tmp_path / "store")
