"""The import graph of a package, read from its source with `ast` (nothing is imported), and its cycles."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path


def module_name(package_dir: Path, path: Path) -> str:
    """`pkg/sub/mod.py` -> "pkg.sub.mod"; a package's `__init__.py` is the package itself."""
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, current: str, is_package: bool) -> Iterable[str]:
    """Every dotted name an import statement may load: `from a.b import c` may load a.b.c (a module) or a.b."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        anchor = current.split(".") if is_package else current.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports, at any depth of its code (a function's late import
    counts: it runs the module all the same, only later). Only edges inside the package are kept."""
    paths = {module_name(package_dir, p): p for p in sorted(package_dir.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                is_package = path.name == "__init__.py"
                graph[name] |= {t for t in _imported(node, name, is_package) if t in paths and t != name}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Import cycles as the paths that close them ([a, b, a]), found by one depth-first walk: at least one for every
    strongly connected knot, and none exactly when the graph is acyclic."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                loop = [*path[path.index(target) :], target]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    found.append(loop)
            elif target not in done:
                visit(target, [*path, target])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return found


def import_cycles(package_dir: Path) -> list[list[str]]:
    """The import cycles among a package's modules (see import_graph); empty when there are none."""
    return cycles(import_graph(package_dir))
