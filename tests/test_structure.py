"""The structure the code must keep: no import cycle of any kind, every module importable
alone, packages talking only through each other's `__init__`, curated public APIs, no
family reaching the store class, and one error tree with its exit codes and statuses.

The import graph counts every import: module-level, inside functions, under
`TYPE_CHECKING`, and the implicit one to each package a dotted import passes through
(`import a.b.c` runs `a/__init__` and `a/b/__init__` first). Edges to the importer's own
enclosing packages are left out (they are already importing when it runs), except an
explicit `from pkg import Name`, which needs pkg's `__init__` to have got that far.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("journal", "checkpoints", "projections", "lakehouse")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for every import in a module, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def _edges(name: str, path: Path) -> dict[str, int]:
    """The modules of this repo that importing `name` imports first, with a line each."""
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
    edges: dict[str, int] = {}
    for line, module, names in _imported(name, path):
        targets = [module, *(f"{module}.{n}" for n in names)]
        for target in targets:
            if target not in MODULES:
                continue
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in MODULES and prefix not in own:
                    edges.setdefault(prefix, line)
        needs_init = not names or any(f"{module}.{n}" not in MODULES for n in names)
        if module in own and module != name and needs_init:
            edges.setdefault(module, line)
    return edges


GRAPH = {name: _edges(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import() -> None:
    """The edges this test relies on are found: a function-level import, a TYPE_CHECKING
    one, and the implicit edge to a package's __init__ (the CLI kit, not lakehouse.cli)."""
    assert "lakehouse._readmodels" in GRAPH["lakehouse._store"]  # inside a method
    assert "lakehouse._kernel" in GRAPH["lakehouse.traces._api"]  # under TYPE_CHECKING too
    assert "lakehouse.clikit" in GRAPH["lakehouse.traces._cli"]  # the package's __init__
    assert "lakehouse" in GRAPH["lakehouse.server._app"]  # `from lakehouse import Store`


def test_there_is_no_import_cycle() -> None:
    problems = []
    for component in _cycles():
        inside = set(component)
        edges = [
            f"  {name}:{line} -> {target}"
            for name in component
            for target, line in GRAPH[name].items()
            if target in inside
        ]
        problems.append(f"cycle of {len(component)} modules:\n" + "\n".join(edges))
    assert not problems, "\n".join(problems)


# preloaded before the forks, so each child pays only for this repo's modules
_ALONE = """
import importlib, os, sys, traceback
for heavy in ("click", "duckdb", "fastapi", "hnswlib", "numpy", "orjson", "pyarrow",
              "pyarrow.parquet", "pydantic", "starlette", "uvicorn"):
    importlib.import_module(heavy)
assert not [m for m in sys.modules if m.split(".")[0] in {packages!r}]
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(name)
print(" ".join(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """Each module, imported first (in a fork of an interpreter that has loaded none of
    ours), works: no import order hides a cycle or a missing import."""
    names = [name for name in MODULES if not name.endswith("__main__")]
    code = _ALONE.format(packages=set(PACKAGES))
    done = subprocess.run(
        [sys.executable, "-c", code, *names],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"failed alone: {done.stdout}\n{done.stderr}"


def _package_of(name: str) -> str:
    """The innermost package a module belongs to (a package is its own)."""
    path = MODULES[name]
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_package_uses_another_only_through_its_init(name: str) -> None:
    """`lakehouse.traces` may import `lakehouse.clikit` and `lakehouse._kernel` (the
    modules of the package it lives in), never `lakehouse.cli._x` or `lakehouse.catalog._x`."""
    mine = _package_of(name)
    problems = []
    for target, line in GRAPH[name].items():
        owner = target.rpartition(".")[0]
        private = target.rpartition(".")[2].startswith("_")
        enclosing = mine == owner or mine.startswith(f"{owner}.")
        if private and MODULES[target].name != "__init__.py" and not enclosing:
            problems.append(f"{name}:{line} imports {target}, private to {owner}")
    assert not problems, "\n".join(problems)


PACKAGE_NAMES = sorted(name for name, path in MODULES.items() if path.name == "__init__.py")


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_all_is_exactly_the_public_names_of_each_package(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{name} has no __all__"
    for key in declared:  # a name loaded on first use (a module __getattr__) is loaded now
        assert hasattr(module, key), f"{name}.__all__ names {key}, which it lacks"
    public = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_") and not isinstance(value, ModuleType) and key != "annotations"
    }
    assert sorted(declared) == sorted(set(declared)), f"{name}.__all__ repeats a name"
    lazy = set(getattr(module, "_LAZY", {}))  # kept out of the namespace: loaded per use
    assert lazy <= set(declared), f"{name} loads {sorted(lazy - set(declared))} lazily, unlisted"
    assert set(declared) == public | (lazy & set(declared)), (
        f"{name}: public but not in __all__: {sorted(public - set(declared))}; "
        f"in __all__ but not defined: {sorted(set(declared) - public - lazy)}"
    )


def test_no_family_imports_the_store_class() -> None:
    """Families see the store as a `Host` (lakehouse/_kernel.py); only the composition
    root knows `Store`."""
    from lakehouse._registry import PLUGINS

    folders = {type(plugin.family).__module__.rpartition(".")[0] for plugin in PLUGINS}
    assert folders == {
        "lakehouse.catalog",
        "lakehouse.traces",
        "lakehouse.sessions",
        "lakehouse.playbooks",
    }
    forbidden = {"lakehouse._store", "lakehouse", "lakehouse.cli", "lakehouse.server"}
    problems = []
    for name in MODULES:
        if not any(
            _package_of(name) == f or _package_of(name).startswith(f + ".") for f in folders
        ):
            continue
        # every module importing `name` imports, through any chain of imports
        via = {name: [name]}
        todo = [name]
        while todo:
            current = todo.pop()
            for target in GRAPH.get(current, {}):
                if target not in via and target in GRAPH:
                    via[target] = [*via[current], target]
                    todo.append(target)
        problems += [" -> ".join(via[target]) for target in sorted(forbidden & set(via))]
    assert not problems, "\n".join(problems)
