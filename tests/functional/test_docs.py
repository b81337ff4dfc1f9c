"""The docs say what the code and the template do: every table that mirrors them is generated or checked here.

A newcomer reads the README and docs/ (built by `make docs`, strict, in `make test`); these tests keep what can
drift (configuration keys, alarms, permissions, parameters, checkov skips, outbox statuses, the code map, links
from the README) equal to template.yaml and the code it describes.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from markdown.extensions.toc import slugify

from retrain_trigger.model import ActionStatus
from retrain_trigger_local import docs_tables
from retrain_trigger_local.bench.docs_page import with_run
from retrain_trigger_local.template import read_template

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIG_TABLE = "<!-- config-table:start -->"
README = ROOT / "README.md"
OPERATIONS = DOCS / "operations.md"
README_LINE_CAP = 250


def table_after(page: Path, heading: str) -> list[list[str]]:
    """The rows (cells, stripped) of the first table after `heading` in `page`, header and rule left out."""
    lines = page.read_text().splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif rows:
            break
    assert len(rows) > 2, f"{page.name}: no table after {heading!r}"
    return rows[2:]


def between(page: Path, name: str) -> str:
    text = page.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    assert text.count(start) == 1 and text.count(end) == 1, f"{page.name}: markers {name} missing or repeated"
    return text.split(start)[1].split(end)[0]


def code(cell: str) -> list[str]:
    """The `code spans` of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    found = {name: body for name, body in read_template()["Resources"].items() if body["Type"] == kind}
    assert found, f"template.yaml has no {kind}"
    return found


# -- configuration ----------------------------------------------------------------------------------------------


def test_configuration_table_is_the_one_the_model_generates() -> None:
    page = docs_tables.CONFIGURATION_PAGE.read_text()
    assert docs_tables.rewrite(page) == page, "run `python -m retrain_trigger_local.docs_tables`"


def test_configuration_table_lists_every_key_of_a_monitor() -> None:
    listed = {row[0].strip("`") for row in table_after(DOCS / "configuration.md", CONFIG_TABLE)}
    keys = {path for path, _, _ in docs_tables.fields()}
    assert listed == keys
    assert {"id", "critical", "source.namespace", "actions.pipeline.name", "guards[].below"} <= listed


def test_configuration_table_defaults_come_from_the_model() -> None:
    defaults = {row[0].strip("`"): row[2] for row in table_after(DOCS / "configuration.md", CONFIG_TABLE)}
    assert defaults["critical"] == "required"
    assert defaults["cooldown"] == "`7d`"
    assert defaults["max_retrains_per_episode"] == "`3`"
    assert defaults["evaluation_delay"] == "`0s`"
    assert defaults["actions.on_alert"] == '`["sns"]`'
    assert defaults["reset"] == "`critical`"  # derived from another key: written as such


def test_a_key_without_a_meaning_fails_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    meanings = dict(docs_tables.MEANING)
    del meanings["cooldown"]
    monkeypatch.setattr(docs_tables, "MEANING", meanings)
    with pytest.raises(docs_tables.TableError, match="cooldown"):
        docs_tables.table()


def test_a_meaning_for_a_key_the_model_lacks_fails_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs_tables, "MEANING", {**docs_tables.MEANING, "critcal": "a typo"})
    with pytest.raises(docs_tables.TableError, match="critcal"):
        docs_tables.table()


def test_the_generator_check_mode_reports_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "configuration.md"
    page.write_text(f"# Configuration\n\n{docs_tables.START}\n| stale |\n{docs_tables.END}\n")
    assert docs_tables.main(["--check", "--page", str(page)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert docs_tables.main(["--page", str(page)]) == 0
    assert docs_tables.main(["--check", "--page", str(page)]) == 0
    assert "| `cooldown` |" in page.read_text()


# -- operations: alarms, parameters, permissions, checkov -------------------------------------------------------


def test_alarms_table_names_every_alarm_of_the_template_with_its_metric() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    listed: dict[str, str] = {}
    for row in table_after(OPERATIONS, "## Alarms"):
        for name in code(row[0]):
            listed[name] = row[1]
    assert set(listed) == set(alarms)
    for name, metric in listed.items():
        props = alarms[name]["Properties"]
        assert code(metric) == [props["Namespace"], props["MetricName"]], name


def _template_default(value: Any) -> str:
    return "empty" if value == "" else f"`{value}`"


def test_parameters_table_lists_every_parameter_with_its_default() -> None:
    parameters = read_template()["Parameters"]
    listed = {code(row[0])[0]: row[1] for row in table_after(OPERATIONS, "## Parameters")}
    assert list(listed) == list(parameters), "one row per parameter, in the template's order"
    for name, default in listed.items():
        assert default == _template_default(parameters[name].get("Default")), name


def _actions(statement: dict[str, Any]) -> frozenset[str]:
    action = statement["Action"]
    return frozenset([action] if isinstance(action, str) else action)


def template_statements() -> dict[tuple[str, str], frozenset[str]]:
    """(role, statement) -> actions, for every statement template.yaml writes: the functions' own policies, the
    policies attached to a function's role, and the stack's own roles. A role SAM makes is named by its function."""
    found: dict[tuple[str, str], frozenset[str]] = {}
    for function, body in resources("AWS::Serverless::Function").items():
        for policy in body["Properties"].get("Policies", []):
            for statement in policy["Statement"]:
                found[(function, statement["Sid"])] = _actions(statement)
    for body in resources("AWS::IAM::Policy").values():
        (role,) = body["Properties"]["Roles"]
        for statement in body["Properties"]["PolicyDocument"]["Statement"]:
            found[(role["Ref"].removesuffix("Role"), statement["Sid"])] = _actions(statement)
    for name, body in resources("AWS::IAM::Role").items():
        for policy in body["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                found[(name, statement.get("Sid", policy["PolicyName"]))] = _actions(statement)
    return found


def test_permissions_table_is_every_statement_of_the_template_with_its_actions() -> None:
    listed = {
        (code(row[0])[0], code(row[1])[0]): frozenset(code(row[2])) for row in table_after(OPERATIONS, "## Permissions")
    }
    template = template_statements()
    assert set(listed) == set(template)
    for key, actions in template.items():
        assert listed[key] == actions, key


def test_checkov_table_gives_every_skipped_check_of_the_template() -> None:
    skipped = set(re.findall(r"checkov:skip=(CKV_\w+)", (ROOT / "template.yaml").read_text()))
    listed = {re.match(r"(CKV_\w+)", row[0]).group(1) for row in table_after(OPERATIONS, "## Static analysis")}  # type: ignore[union-attr]
    assert skipped
    assert listed == skipped


# -- the outbox, the CI event --------------------------------------------------------------------------------------


def test_outbox_statuses_are_the_models() -> None:
    listed = re.findall(r"`(\w+)` \(", between(DOCS / "reliability.md", "action-statuses"))
    assert listed == list(get_args(ActionStatus))


def json_blocks(page: Path) -> Iterator[dict[str, Any]]:
    for block in re.findall(r"```json\n(.*?)```", page.read_text(), flags=re.S):
        document = json.loads(block)
        if isinstance(document, dict):
            yield document


def test_every_retraining_finished_example_names_its_attempt() -> None:
    # The engine ignores an outcome that does not name the running attempt: an example without one would not work.
    examples = [
        block
        for page in [README, *DOCS.glob("*.md")]
        for block in json_blocks(page)
        if {"monitor_id", "status", "episode_id"} <= block.keys()
    ]
    event = json.loads((ROOT / "events" / "retraining-finished.json").read_text())["detail"]
    assert examples
    for example in [*examples, event]:
        assert isinstance(example.get("attempt"), int), example


# -- the code map, the README -----------------------------------------------------------------------------------


def code_map_paths() -> list[str]:
    rows = table_after(DOCS / "development.md", "<!-- code-map:start -->")
    return [path for row in rows for path in code(row[0])]


def test_every_path_in_the_code_map_exists() -> None:
    paths = code_map_paths()
    assert paths
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert not missing


def package_dirs() -> set[str]:
    """Every folder of shipped or local code: the handlers' folders and each package, as the tree has them."""
    roots = [ROOT / "functions", ROOT / "layers", ROOT / "src"]
    return {
        str(path.parent.relative_to(ROOT))
        for root in roots
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts and "site-packages" not in path.parts
    }


def test_every_package_is_in_the_code_map() -> None:
    listed = [path.rstrip("/") for path in code_map_paths()]
    unlisted = sorted(d for d in package_dirs() if not any(path == d or path.startswith(f"{d}/") for path in listed))
    assert not unlisted
    installed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert set(installed.values()) <= package_dirs() | {"layers/retrain_trigger/retrain_trigger"}


def test_readme_is_short_enough_to_read_in_ten_minutes() -> None:
    assert len(README.read_text().splitlines()) <= README_LINE_CAP


def headings(page: Path) -> set[str]:
    fenced = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slugify(line.lstrip("#").strip(), "-") for line in fenced.splitlines() if re.match(r"#{1,6} ", line)}


def test_readme_links_into_docs_reach_a_page_and_a_heading() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", README.read_text())
    assert len(links) >= 10
    for target, anchor in links:
        page = ROOT / target
        assert page.is_file(), target
        if anchor:
            assert anchor in headings(page), f"{target}#{anchor}"


def nav_files(entries: list[Any]) -> Iterator[str]:
    """The pages of mkdocs' nav, sections (a title over a list of entries) included."""
    for entry in entries:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            if isinstance(value, list):
                yield from nav_files(value)
            else:
                yield value


def test_the_site_builds_offline_from_every_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["font"] is False  # no web fonts fetched
    assert config["plugins"] == ["search"]  # nothing that fetches at build time
    assert config["strict"] is True
    nav_pages = set(nav_files(config["nav"]))
    pages = {page.name for page in DOCS.glob("*.md")}
    assert pages <= nav_pages


def test_no_tracked_file_names_a_package_registrys_host() -> None:
    # The packages are installed by name through the ordinary clients; the repository never names their hosts.
    hosts = ("pypi" + ".org", "pythonhosted" + ".org", "debian" + ".org", "npmjs" + ".org", "npmjs" + ".com")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    named = [
        f"{name.decode()}: {host}"
        for name in tracked
        if name and (ROOT / name.decode()).is_file()
        for host in hosts
        if host.encode() in (ROOT / name.decode()).read_bytes()
    ]

    assert named == []


def test_the_benchmark_page_has_the_markers_make_bench_writes_between() -> None:
    page = (DOCS / "benchmark.md").read_text()

    assert with_run(page, "t", "{}").count("<!-- bench:start -->") == 1
