"""Shared fixtures: a fresh store, and a seed that is printed and kept with failing stores.

Fault tests are seeded: the seed is printed (run with ``LAKEHOUSE_TEST_SEED=N`` to
replay it) and, when a test fails, its store directory is copied under
``.test-failures/`` so the damage can be looked at.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from journal import Journal

REPO = Path(__file__).resolve().parent.parent
KEPT = REPO / ".test-failures"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A random seed for this test, printed so a failure can be replayed."""
    value = int(os.environ.get("LAKEHOUSE_TEST_SEED") or random.randrange(2**32))
    print(f"seed={value} (replay with LAKEHOUSE_TEST_SEED={value})")
    return value


@pytest.fixture
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """The root of a fresh, initialised store; kept under .test-failures/ if the test fails."""
    root = tmp_path / "store"
    Journal.open(root, create=True).close()
    yield root
    if request.node.stash.get(_FAILED, False) and root.exists():
        target = KEPT / f"{request.node.name}-{os.getpid()}"
        shutil.rmtree(target, ignore_errors=True)
        # links as links, and FIFOs and sockets (hostile-file tests plant them) left out
        shutil.copytree(root, target, symlinks=True, ignore=_special_files)
        print(f"kept failing store at {target}")


def _special_files(directory: str, names: list[str]) -> list[str]:
    """The names in `directory` that are neither files, directories nor symlinks."""
    import stat

    kept = (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)
    return [
        n for n in names if stat.S_IFMT(os.lstat(os.path.join(directory, n)).st_mode) not in kept
    ]
