"""The local tools (demo, bench, sam-local) and the tests share one runtime and import one way.

Facts read from the source with `ast`: no import cycle anywhere in retrain_trigger_local, and no test imports the
demo (a test of the demo runs it as a user does, `python -m retrain_trigger_local.demo`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from retrain_trigger_local import runtime
from tests.support.import_graph import import_cycles, import_graph

ROOT = Path(__file__).resolve().parents[2]
LOCAL_PACKAGE = ROOT / "src" / "retrain_trigger_local"
TOOLS = ("demo", "bench.cli", "local_invoke", "live_stack")  # the modules with a user-facing `main` and argument parser


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_checker_finds_a_cycle_even_through_a_late_import_in_a_function(tmp_path: Path) -> None:
    package = _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "from pkg.b import B\n",
            "b.py": "def late() -> None:\n    from pkg import c\n",
            "c.py": "from .a import A\n",
            "d.py": "import pkg.a\n",
        },
    )
    assert import_graph(package) == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg", "pkg.c"},
        "pkg.c": {"pkg.a"},
        "pkg.d": {"pkg.a"},
    }
    assert import_cycles(package) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_the_checker_passes_a_one_way_graph(tmp_path: Path) -> None:
    package = _write(
        tmp_path / "pkg",
        {"__init__.py": "", "a.py": "import os\nfrom pkg import b\n", "b.py": "from pkg.c import C\n", "c.py": ""},
    )
    assert import_cycles(package) == []


def test_retrain_trigger_local_has_no_import_cycle() -> None:
    graph = import_graph(LOCAL_PACKAGE)
    assert "retrain_trigger_local.bench.seeding" in graph  # the checker sees the whole package, bench included
    assert import_cycles(LOCAL_PACKAGE) == []


def test_the_runtime_imports_nothing_but_the_standard_library() -> None:
    tree = ast.parse(Path(runtime.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {
        "__future__",
        "importlib.util",
        "os",
        "sys",
        "collections.abc",
        "dataclasses",
        "pathlib",
        "types",
    }


@pytest.mark.parametrize("tool", TOOLS)
def test_no_module_imports_a_tool(tool: str) -> None:
    """A tool's `main` and argument parser are its own: the others take what they share from runtime or world."""
    importers = [m for m, targets in import_graph(LOCAL_PACKAGE).items() if f"retrain_trigger_local.{tool}" in targets]
    allowed = {"retrain_trigger_local.bench.__main__"} if tool == "bench.cli" else set()
    assert set(importers) <= allowed


def test_no_test_imports_the_demo() -> None:
    importers = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n == "retrain_trigger_local.demo" or n.startswith("retrain_trigger_local.demo.") for n in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []


def test_a_handler_is_loaded_by_path_under_its_own_name_and_a_missing_one_is_named() -> None:
    lifecycle = runtime.load_handler("lifecycle")
    assert lifecycle.__name__ == "lifecycle_app"
    assert Path(lifecycle.__file__ or "") == ROOT / "functions" / "lifecycle" / "app.py"
    with pytest.raises(FileNotFoundError, match=r"functions/nowhere/app\.py"):
        runtime.load_handler("nowhere")


def test_the_sandbox_environment_drops_profiles_and_sets_dummy_credentials() -> None:
    env = runtime.sandbox_environment("http://127.0.0.1:5000", base={"AWS_PROFILE": "prod", "PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    }
