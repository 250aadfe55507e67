"""The package's shape: one Docker boundary, a core that knows no pytest, no import cycle, small units.

Read from the source with `ast`, so a violation names the file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_tel3sis_compose

PACKAGE = Path(pytest_tel3sis_compose.__file__).parent
NAME = "pytest_tel3sis_compose"
BOUNDARY = f"{NAME}.engine"
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 250


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def imports(name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the module, those inside functions included."""
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield (submodule if submodule in MODULES else node.module), node.lineno


def package_imports(name: str) -> set[str]:
    """The package's own modules this one imports (parent packages, imported implicitly, aside)."""
    return {
        imported for imported, _ in imports(name) if imported in MODULES and not name.startswith(imported)
    }


def test_only_the_boundary_talks_to_docker() -> None:
    offenders = [
        f"{MODULES[name]}:{line} imports {imported}"
        for name in MODULES
        if name != BOUNDARY
        for imported, line in imports(name)
        if imported.split(".")[0] in ("python_on_whales", "subprocess", "docker")
    ]

    assert offenders == []


def test_the_core_knows_no_pytest_and_no_docker_library() -> None:
    offenders = [
        f"{MODULES[name]}:{line} imports {imported}"
        for name in MODULES
        if name.startswith(f"{NAME}.core")
        for imported, line in imports(name)
        if imported.split(".")[0] in ("pytest", "_pytest", "xdist")
        or imported.startswith((f"{NAME}.plugin", BOUNDARY))
    ]

    assert offenders == []


def test_no_import_cycle() -> None:
    graph = {name: package_imports(name) for name in MODULES}
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        for imported in sorted(graph[name]):
            if imported in path:
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])

    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_functions_and_classes_stay_small(name: str) -> None:
    too_long = []
    for node in ast.walk(TREES[name]):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                too_long.append(f"{MODULES[name]}:{node.lineno} {node.name} has {lines} lines (> {limit})")

    assert too_long == []


def test_the_architecture_is_what_these_checks_read() -> None:
    # Guards the guards: the boundary exists and is read, the core and plugin layers are found.
    assert BOUNDARY in MODULES
    assert any(imported == "python_on_whales" for imported, _ in imports(BOUNDARY))
    assert sum(name.startswith(f"{NAME}.core.") for name in MODULES) >= 10
    assert sum(name.startswith(f"{NAME}.plugin.") for name in MODULES) >= 5
    assert f"{NAME}.core.stack" in package_imports(f"{NAME}.plugin.factory")
