"""No import circle: the layer's package and the CLI read as a one-way graph (parsed with `ast`, nothing imported)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.imports import find_cycle, import_graph

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "retrain_trigger" / "retrain_trigger"
CLI = ROOT / "src" / "retrain_trigger_cli"


def top_level_imports(path: Path) -> set[str]:
    """The top-level packages a file imports, anywhere in it (a deferred import counts: it ships all the same)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_layer_package_imports_no_module_in_a_circle() -> None:
    graph = import_graph(LAYER)

    assert "retrain_trigger.policy.rules" in graph["retrain_trigger.policy.engine"]  # the graph sees real imports
    assert find_cycle(graph) is None


def test_the_cli_and_the_layer_import_no_module_in_a_circle() -> None:
    graph = import_graph(LAYER, CLI)

    assert "retrain_trigger.policy" in graph["retrain_trigger_cli.engine"]
    assert find_cycle(graph) is None


def test_the_domain_never_imports_upwards() -> None:
    """config -> model -> policy/ports/events -> messages/adapters -> service -> wiring, never back."""
    graph = import_graph(LAYER)
    # fleet_config is the configuration's `fleet` section and cross-monitor checks: config's level, its own module.
    config_layer = {
        "retrain_trigger.errors",
        "retrain_trigger.durations",
        "retrain_trigger.maintenance_config",
        "retrain_trigger.fleet_config",
    }
    below_policy = config_layer | {"retrain_trigger.config", "retrain_trigger.model", "retrain_trigger.score_config"}
    policy = {m for m in graph if m.startswith("retrain_trigger.policy")}

    assert graph["retrain_trigger.score_config"] == set()  # the `score` key's model sits beside config, at the bottom
    assert graph["retrain_trigger.config"] <= config_layer | {"retrain_trigger.score_config"}
    assert graph["retrain_trigger.fleet_config"] <= {"retrain_trigger.errors"}
    assert graph["retrain_trigger.maintenance_config"] <= {"retrain_trigger.durations"}
    assert graph["retrain_trigger.model"] <= {"retrain_trigger.config", "retrain_trigger.errors"}
    assert all(graph[m] <= below_policy | policy for m in policy), {m: graph[m] for m in policy}


def test_the_checker_finds_a_circle_through_a_deferred_import_and_skips_type_checking_ones(tmp_path: Path) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loop import b\n")
    (package / "b.py").write_text("def later():\n    from loop.c import x\n")
    (package / "c.py").write_text("from . import a\nx = 1\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loop import e\n")
    (package / "e.py").write_text("import loop.d\n")

    graph = import_graph(package)

    assert find_cycle(graph) == ["loop.a", "loop.b", "loop.c", "loop.a"]
    assert graph["loop.d"] == set()  # only under TYPE_CHECKING
    assert graph["loop.e"] == {"loop.d"}


def test_no_file_of_the_shared_layer_imports_numpy_pandas_matplotlib_or_moto() -> None:
    """The SharedLayer is every function's: its cold start and its size. numpy lives in the DriftLayer (the
    ScoreFunction's alone), pandas and matplotlib in the local tools, moto in the tests."""
    heavy = {"numpy", "pandas", "matplotlib", "moto"}
    files = sorted((ROOT / "layers" / "retrain_trigger").rglob("*.py"))
    found = {
        str(path.relative_to(ROOT)): sorted(imported & heavy)
        for path in files
        if (imported := top_level_imports(path)) & heavy
    }

    assert len(files) > 50 and "numpy" in top_level_imports(ROOT / "layers/drift/retrain_trigger_drift_data/metrics.py")
    assert found == {}
