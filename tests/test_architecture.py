"""The folder listing is the architecture: imports only point down, public APIs are curated."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# each package and the packages it may import (lakehouse -> projections -> checkpoints -> journal)
ALLOWED = {
    "journal": set(),
    "checkpoints": {"journal"},
    "projections": {"checkpoints", "journal"},
    "lakehouse": {"projections", "checkpoints", "journal"},
}
FORBIDDEN_EVERYWHERE = {"tools", "tests"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from journal import _record` imports a private module too
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _sources() -> list[tuple[str, Path]]:
    return [
        (package, path) for package in ALLOWED for path in sorted((REPO / package).rglob("*.py"))
    ]


@pytest.mark.parametrize(("package", "path"), _sources(), ids=str)
def test_imports_point_down_and_stay_public(package: str, path: Path) -> None:
    problems = []
    for line, module in _imports(path):
        top, *rest = module.split(".")
        where = f"{path.relative_to(REPO)}:{line} imports {module}"
        if top in FORBIDDEN_EVERYWHERE or (
            top in ALLOWED and top != package and top not in ALLOWED[package]
        ):
            problems.append(f"{where}: {package} may not import {top}")
        elif top in ALLOWED and top != package and any(part.startswith("_") for part in rest):
            problems.append(f"{where}: reaches into a private module of {top}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_has_a_sorted_public_api_from_this_repo(package: str) -> None:
    module = importlib.import_module(package)
    assert Path(module.__file__ or "").resolve().is_relative_to(REPO), (
        f"{package} was imported from {module.__file__}, not from this repo"
    )
    tree = ast.parse((REPO / package / "__init__.py").read_text())
    names = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in ([node.target] if isinstance(node, ast.AnnAssign) else node.targets)
        if isinstance(target, ast.Name) and target.id == "__all__"
        for node in [node.value]  # type: ignore[misc]
        if isinstance(node, ast.List)
        for node in node.elts  # type: ignore[misc]
        if isinstance(node, ast.Constant)
    ]
    # isort-style, as ruff keeps it: CONSTANTS first, then the rest, each alphabetical
    assert names == sorted(names, key=lambda n: (not n.isupper(), n)), f"{package}.__all__ order"
    assert names == list(module.__all__)
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it lacks: {missing}"


@pytest.mark.parametrize("module", ["journal", "lakehouse.cli"])
def test_mutation_path_imports_nothing_heavy(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = {'duckdb', 'pyarrow', 'hnswlib', 'numpy', 'pandas', 'fastapi', 'uvicorn', "
        "'starlette'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
