"""The rules table (docs/rules.md), the rule functions and the rule tests name the same rules, so none can drift."""

from __future__ import annotations

import ast
import inspect
import itertools
import re
from pathlib import Path

from retrain_trigger.policy import lifecycle, model_age, rules

ROOT = Path(__file__).resolve().parents[2]
RULE_TESTS = (Path(__file__).with_name("test_policy_rules.py"), Path(__file__).with_name("test_model_age.py"))
# The engine's rules: every public function of rules.py and lifecycle.py, and the rules of the policy modules that
# decide from a Context (their helpers, such as model_age.age_window, are not rules).
RULE_MODULES = (rules, lifecycle, model_age)
# Test classes in the rule tests that are about what the rules see or when they run, not one rule.
NOT_RULES = {"TestWindow", "TestSchedule", "TestBadInput", "TestReferenceScenario"}


def rule_functions() -> set[str]:
    return {
        name
        for module in RULE_MODULES
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and (module in (rules, lifecycle) or next(iter(inspect.signature(function).parameters), "") == "ctx")
    }


def table_rules(page: str) -> list[str]:
    """The `rule` column of the rules page's first table (the one the engine's rules fill)."""
    lines = page.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines[first:]))
    assert rows[0].split("|")[1].strip() == "rule", "the rules table's first column names the rule function"
    names = []
    for row in rows[2:]:  # after the header and its separator
        cell = row.split("|")[1].strip()
        match = re.fullmatch(r"`(\w+)`", cell)
        assert match, f"rules table row names no rule function: {row}"
        names.append(match.group(1))
    return names


def camel(name: str) -> str:
    return "Test" + "".join(part.capitalize() for part in name.split("_"))


def test_the_docs_rules_table_names_exactly_the_rule_functions() -> None:
    named = table_rules((ROOT / "docs" / "rules.md").read_text())

    assert set(named) == rule_functions()


def test_every_rule_function_has_its_class_of_rule_tests_and_every_class_is_a_rule() -> None:
    trees = [ast.parse(path.read_text()) for path in RULE_TESTS]
    classes = {node.name: node for tree in trees for node in tree.body if isinstance(node, ast.ClassDef)}
    expected = {camel(name) for name in rule_functions()}

    assert set(classes) - NOT_RULES == expected
    empty = [name for name in expected if not any(isinstance(n, ast.FunctionDef) for n in classes[name].body)]
    assert empty == []


def test_the_checker_notices_a_rule_missing_from_the_table() -> None:
    page = (ROOT / "docs" / "rules.md").read_text()
    without_renotify = "\n".join(line for line in page.splitlines() if not line.startswith("| `renotify` |"))

    assert set(table_rules(without_renotify)) == rule_functions() - {"renotify"}
