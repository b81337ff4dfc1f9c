"""The import graph of a package, read from its source with `ast` (nothing is imported), and its cycles.

A module depends on every module of the packages looked at that it imports, at its top or inside a function (a
deferred import is still a dependency). Imports under `if TYPE_CHECKING:` never run and are left out. `from pkg
import name` depends on `pkg.name` when that is a module, else on `pkg`. A package is not made to depend on by
importing one of its submodules: Python runs its `__init__` first, but that is initialisation, not a dependency
of the submodule (otherwise every package re-exporting its submodules would be "a cycle").
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

Graph = dict[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package whose directory is `root`, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph(*roots: Path) -> Graph:
    """module -> the modules (of the packages at `roots`) it imports."""
    known: dict[str, Path] = {}
    for root in roots:
        known |= modules(root)
    graph: Graph = {}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[name] = {target for target in _imported(tree, name, is_package, known) if target != name}
    return graph


def _imported(tree: ast.Module, module: str, is_package: bool, known: Mapping[str, Path]) -> Iterable[str]:
    for node in _running(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _within(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield from (_within(submodule, known) if submodule in known else _within(base, known))


def _running(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (or `if typing.TYPE_CHECKING:`)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _within(name: str, known: Mapping[str, Path]) -> Iterable[str]:
    """`name`, or the nearest enclosing module of it, when it belongs to the packages looked at."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            yield candidate
            return


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in import order, the first repeated at the end), or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = pending.pop(0)
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                stack.append((nxt, sorted(graph.get(nxt, ()))))
                path.append(nxt)
                on_path.add(nxt)
    return None
