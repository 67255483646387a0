"""The folder listing is the architecture: imports point down and privates stay private.

Every import in the four packages is read with `ast`, including imports inside functions
and under `if TYPE_CHECKING:`, so a lazy import cannot hide a dependency (STYLE.md §1, §2, §5).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Each package and the other packages it may import: lakehouse -> projections -> checkpoints -> journal.
MAY_IMPORT: dict[str, set[str]] = {
    "lakehouse": {"projections", "checkpoints", "journal"},
    "projections": {"checkpoints", "journal"},
    "checkpoints": {"journal"},
    "journal": set(),
}
PACKAGES = list(MAY_IMPORT)
NEVER_IMPORTED = {"tools", "tests"}  # they import the packages, never the other way round

# Modules a mutation verb imports must start fast: none of these may be loaded by them.
FAST_START = ["journal", "lakehouse.cli"]
HEAVY = {"duckdb", "pyarrow", "hnswlib", "pandas", "numpy"}


def _imports(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, dotted name imported, statement) for each import in a file, relative ones resolved."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}", ast.unparse(node)


def _offenders(package: str, why: Callable[[str], str | None]) -> list[str]:
    """`file:line: statement  (reason)` for each import in the package that `why` objects to."""
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, name, statement in _imports(path):
            reason = why(name)
            if reason:
                found.append(f"{path.relative_to(REPO)}:{line}: {statement}  ({reason})")
    return found


def _is_private(segment: str) -> bool:
    return segment.startswith("_") and not (segment.startswith("__") and segment.endswith("__"))


def _has_init(package: str) -> bool:
    return (REPO / package / "__init__.py").is_file()


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package: str) -> None:
    def why(name: str) -> str | None:
        top = name.partition(".")[0]
        upward = top in MAY_IMPORT and top != package and top not in MAY_IMPORT[package]
        return f"{package} may not import {top}: imports point down" if upward else None

    assert not _offenders(package, why), "\n".join(_offenders(package, why))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_reaching_into_another_packages_private_modules(package: str) -> None:
    def why(name: str) -> str | None:
        top, *rest = name.split(".")
        private = top in MAY_IMPORT and top != package and any(map(_is_private, rest))
        return f"import it from {top}'s public API instead" if private else None

    assert not _offenders(package, why), "\n".join(_offenders(package, why))


@pytest.mark.parametrize("package", PACKAGES)
def test_tools_and_tests_are_never_imported(package: str) -> None:
    def why(name: str) -> str | None:
        top = name.partition(".")[0]
        return f"nothing under {package}/ may import {top}" if top in NEVER_IMPORTED else None

    assert not _offenders(package, why), "\n".join(_offenders(package, why))


def _ruff_order(name: str) -> tuple[int, list[int | str]]:
    """The order ruff's RUF022 keeps `__all__` in: CONSTANTS, Classes, the rest; natural sort."""
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return kind, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_is_a_sorted_all_of_real_names(package: str) -> None:
    if not _has_init(package):
        pytest.skip(f"{package}/__init__.py does not exist yet")
    init = REPO / package / "__init__.py"
    values = [
        node.value
        for node in ast.parse(init.read_bytes()).body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(target, ast.Name) and target.id == "__all__"
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert len(values) == 1, f"{package}/__init__.py must assign __all__ exactly once"
    value = values[0]
    assert isinstance(value, ast.List), f"{package}.__all__ must be a list literal"
    assert all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts), (
        f"{package}.__all__ must hold only string literals"
    )
    names = [e.value for e in value.elts if isinstance(e, ast.Constant)]
    assert names == sorted(set(names), key=_ruff_order), (
        f"{package}.__all__ is not sorted or has duplicates (`ruff check --fix` sorts it)"
    )
    module = importlib.import_module(package)
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what the package lacks: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_are_imported_from_this_repo(package: str) -> None:
    # PyPI has unrelated projects named journal, checkpoints, projections and lakehouse.
    if not _has_init(package):
        pytest.skip(f"{package}/__init__.py does not exist yet")
    where = importlib.import_module(package).__file__
    assert where and Path(where).resolve().is_relative_to(REPO / package), (
        f"`import {package}` found {where}, not {REPO / package}: another distribution "
        f"shadows it (see `pip show {package}`); reinstall with pip install -e '.[dev]'"
    )


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


@pytest.mark.parametrize("module", FAST_START)
def test_starts_without_heavy_libraries(module: str) -> None:
    if not _exists(module):
        pytest.skip(f"{module} does not exist yet")
    code = f"import {module}, sys; print('\\n'.join(sys.modules))"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    loaded = sorted(HEAVY & {name.partition(".")[0] for name in run.stdout.split()})
    assert not loaded, (
        f"`import {module}` loads {', '.join(loaded)}: import heavy libraries inside the "
        "functions that need them (find the culprit with python -X importtime)"
    )
