"""template.yaml's dashboard: created on moto from the template, and every metric it draws is one the functions
really emit, under the same namespace and dimensions (read from EMF on stdout of a real evaluator run).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from retrain_trigger_local.deploy import StackInfo
from tests.functional.test_template_operations import default_configuration, emitted
from tests.support.stacks import client
from tests.support.world import PIPELINE, TICK, World

ROOT = Path(__file__).resolve().parents[2]
TELEMETRY = ROOT / "layers" / "retrain_trigger" / "retrain_trigger" / "telemetry.py"
EMF_NAMESPACE = "RetrainTrigger"
SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<name>\w+)\"(?P<filters>[^']*)'")


def dashboard_body(stack: StackInfo) -> dict[str, Any]:
    found = client("cloudwatch").get_dashboard(DashboardName=stack.physical_ids["Dashboard"])
    body: dict[str, Any] = json.loads(found["DashboardBody"])
    return body


def drawn(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric a widget draws: its name, namespace and dimensions (a SEARCH: the dimension names it groups by,
    with the values it filters on)."""
    found: list[dict[str, Any]] = []
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], dict):
                match = SEARCH.match(row[0]["expression"])
                assert match, row
                namespace, *keys = match["schema"].split(",")
                filters = dict(re.findall(r'(\w+)="([^"]*)"', match["filters"]))
                found.append({"MetricName": match["name"], "Namespace": namespace, "keys": set(keys), **filters})
                continue
            namespace, name, *rest = (item for item in row if not isinstance(item, dict))
            dimensions = dict(zip(rest[::2], rest[1::2], strict=True))
            found.append({"MetricName": name, "Namespace": namespace, "keys": set(dimensions), **dimensions})
    return found


def names_in_telemetry() -> set[str]:
    """The metric names telemetry.py passes as name=... to add_metric or single_metric."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(TELEMETRY.read_text())):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    names.add(str(keyword.value.value))
    return names


@pytest.fixture
def body(stack: StackInfo) -> dict[str, Any]:
    return dashboard_body(stack)


def test_the_stack_has_a_dashboard_named_after_it(stack: StackInfo, body: dict[str, Any]) -> None:
    assert stack.physical_ids["Dashboard"] == f"{stack.stack_name}-retrain-trigger"
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert len(titles) == 6, titles


def test_the_score_widget_draws_every_monitor_against_the_levels(stack: StackInfo, body: dict[str, Any]) -> None:
    (score,) = [w for w in body["widgets"] if "DriftScore" in json.dumps(w["properties"]["metrics"])]
    levels = {a["label"].split()[0]: a["value"] for a in score["properties"]["annotations"]["horizontal"]}
    parameters = stack.parameters
    assert levels == {
        "critical": float(parameters["CriticalThreshold"]),
        "warning": float(parameters["WarningThreshold"]),
        "reset": float(parameters["ResetThreshold"]),
    }


def test_the_levels_follow_the_stack_parameters(deploy: Any) -> None:
    stack = deploy(CriticalThreshold="0.4", ResetThreshold="0.3", WarningThreshold="0.25")
    text = json.dumps(dashboard_body(stack))
    assert '"value": 0.4' in text and '"value": 0.3' in text and '"value": 0.25' in text


def test_the_shard_queue_widget_watches_the_stack_queues(stack: StackInfo, body: dict[str, Any]) -> None:
    queues = {m["QueueName"] for m in drawn(body) if m["Namespace"] == "AWS/SQS"}
    shard_url, dead_url = stack.physical_ids["ShardQueue"], stack.physical_ids["ShardDeadLetterQueue"]
    assert queues == {shard_url.rsplit("/", 1)[-1], dead_url.rsplit("/", 1)[-1]}


def test_every_metric_drawn_is_one_the_evaluator_emits(
    stack: StackInfo, body: dict[str, Any], world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    document = default_configuration()
    (monitor,) = document["monitors"]
    world.configure(
        {
            **document,
            "monitors": [
                {**monitor, "id": "blind"},  # no scores: insufficient data
                # a level that is not a number: an evaluation error (a bad score item is refused and reported,
                # and its monitor decided on its other datapoints: issue 13 item 12)
                {**monitor, "id": "garbled", "critical": "high"},
                {**monitor, "id": "orphan", "actions": {**monitor["actions"], "pipeline": {"name": "no-such"}}},
                {**monitor, "id": "drifting", "actions": {**monitor["actions"], "pipeline": {"name": PIPELINE}}},
            ],
        }
    )
    world.score("orphan", TICK, 0.2186)  # breaching: its pipeline start fails
    world.score("drifting", TICK, 0.2186)  # breaching: a transition, its actions done
    capsys.readouterr()

    world.tick()

    metrics = emitted(capsys)
    in_code = names_in_telemetry()
    ours = [m for m in drawn(body) if m["Namespace"] == EMF_NAMESPACE]
    assert {m["MetricName"] for m in ours} >= {
        "DriftScore",
        "Transitions",
        "ActionsDone",
        "ActionFailures",
        "ActionsUnconfirmed",
        "EvaluationErrors",
        "MonitorsEvaluated",
    }
    unseen = []
    for metric in ours:
        name, keys = metric["MetricName"], metric["keys"]
        if name in metrics:
            identities = metrics[name]
            assert all(set(identity) - {"Namespace"} == keys for identity in identities), (name, identities)
            fixed = {k: v for k, v in metric.items() if k not in ("MetricName", "keys") and k in keys}
            assert any(fixed.items() <= identity.items() for identity in identities), (name, fixed, identities)
        else:
            unseen.append(name)
            # Not made by this run (a write conflict, an unconfirmed action): named by the code, and drawn with the
            # dimension every add_metric carries.
            assert name in in_code, name
            assert (keys, metric.get("service")) == ({"service"}, "retrain-trigger"), metric
    assert set(unseen) <= {"ConcurrentUpdates", "ActionsUnconfirmed"}, unseen
