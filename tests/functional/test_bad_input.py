"""Bad input, case by case, through the real handlers on moto: the configuration document, DynamoDB score items,
CloudWatch data, the scheduled tick and the lifecycle events.

What every case promises (the README's "Bad input" table is this file):
- the error names the monitor and the field (a failing dependency, which has no field, names the monitor);
- a second, healthy monitor in the same configuration is still evaluated;
- the broken monitor's state item is left exactly as it was, and no pipeline execution starts;
- an error alert reaches the on-call subscriber;
- a malformed event fails the invocation with BadInput (so Lambda's retries and DLQ see it) and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.errors import BadInput, ConfigError
from retrain_trigger_local.world import drain
from tests.support.world import PIPELINE, TICK, World, context, event

BROKEN, HEALTHY = "churn-model", "fraud-model"  # the lifecycle events in events/*.json are about churn-model
DAY8 = "2024-08-08T00:00:00Z"
NAMESPACE = "MLOps/ModelMonitoring"
CLOUDWATCH = {"type": "cloudwatch", "namespace": NAMESPACE, "dimensions": {"MonitorId": BROKEN}}

Attribute = Mapping[str, Any]  # a DynamoDB attribute value, as the low-level client writes it


def configuration(broken: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "defaults": {"critical": 0.2, "reset": 0.15, "warning": 0.1, "actions": {"pipeline": {"name": PIPELINE}}},
        "monitors": [{"id": BROKEN, **broken}, {"id": HEALTHY}],
    }


def item(timestamp: Any = TICK, **attributes: Attribute) -> dict[str, Attribute]:
    """A score item for the broken monitor; the timestamp as any attribute value (a string unless given one)."""
    stamp = timestamp if isinstance(timestamp, Mapping) else {"S": timestamp}
    return {"timestamp": stamp, **({"drift_score": {"N": "0.9"}} | attributes)}


def number(value: str) -> Attribute:
    return {"N": value}


def text(value: str) -> Attribute:
    return {"S": value}


# -- what the evaluator reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """At TICK, the broken monitor meets this; the healthy one crosses its warning level."""

    field: str | None  # None: not bad input but a failing dependency, which has no field to name
    problem: str  # words the problem says
    broken: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the broken monitor's configuration at TICK
    items: tuple[Mapping[str, Attribute], ...] = ()  # score items written for it before TICK
    cloudwatch: bool = False  # it reads CloudWatch instead of the score table
    status: str | None = None  # a GetMetricData StatusCode that moto never returns (stubbed)


def guard(**bounds: Any) -> dict[str, Any]:
    return {"guards": [{"metric": "accuracy", **bounds}]}


EVALUATOR_CASES = [
    # The configuration, one monitor's fields.
    pytest.param(Tick("critical", "not a boolean", {"critical": True}), id="config: critical is a boolean"),
    pytest.param(Tick("critical", "valid number", {"critical": "high"}), id="config: critical is a word"),
    pytest.param(Tick("critical", "finite", {"critical": float("inf")}), id="config: critical is infinite"),
    pytest.param(
        Tick("evaluation_periods", "not a boolean", {"evaluation_periods": True}), id="config: N is a boolean"
    ),
    pytest.param(Tick("cooldown", "negative", {"cooldown": "-7d"}), id="config: negative cooldown"),
    pytest.param(Tick("retraining_timeout", "longer than zero", {"retraining_timeout": 0}), id="config: zero timeout"),
    pytest.param(Tick("every", "longer than zero", {"every": "0s"}), id="config: every 0"),
    pytest.param(Tick("max_age", "longer than zero", {"max_age": 0}), id="config: max_age 0"),
    pytest.param(Tick("reset", "above critical", {"reset": 0.3}), id="config: reset above critical"),
    pytest.param(Tick("warning", "below critical", {"warning": 0.2}), id="config: warning not below critical"),
    pytest.param(
        Tick("warning_reset", "above it", {"warning": 0.1, "warning_reset": 0.12}), id="config: warning_reset above"
    ),
    pytest.param(
        Tick("datapoints_to_trigger", "evaluation_periods", {"datapoints_to_trigger": 3, "evaluation_periods": 2}),
        id="config: M > N",
    ),
    pytest.param(Tick("muted_until", "needs muted_until", {"mode": "muted"}), id="config: muted without muted_until"),
    pytest.param(
        Tick("muted_until", "timezone", {"mode": "muted", "muted_until": "2024-08-20T00:00:00"}),
        id="config: muted_until without a timezone",
    ),
    pytest.param(Tick("guards.0", "exactly one", guard(below=0.8, above=0.9)), id="config: guard with both bounds"),
    pytest.param(Tick("guards.0", "exactly one", guard()), id="config: guard with no bound"),
    pytest.param(
        Tick("actions.pipeline", "no pipeline", {"actions": {"on_retrain": ["sagemaker"]}}),
        id="config: sagemaker without a pipeline",
    ),
    pytest.param(Tick("missing_data", "Input should be", {"missing_data": "sometimes"}), id="config: missing_data"),
    pytest.param(Tick("colour", "unknown key", {"colour": "blue"}), id="config: unknown key"),
    pytest.param(Tick("source", "does not match", {"source": {"type": "kafka"}}), id="config: unknown source type"),
    pytest.param(
        Tick("source.namespace", "Field required", {"source": {"type": "cloudwatch"}}),
        id="config: CloudWatch namespace",
    ),
    pytest.param(
        Tick("source.period", "multiple of 60", {"source": CLOUDWATCH | {"period": "90s"}}),
        id="config: CloudWatch period 90s",
    ),
    pytest.param(
        Tick("source.period", "longer than zero", {"source": CLOUDWATCH | {"period": 0}}),
        id="config: CloudWatch period 0",
    ),
    # DynamoDB score items.
    pytest.param(Tick("drift_score", "not a number", items=(item(drift_score=text("abc")),)), id="item: score 'abc'"),
    pytest.param(Tick("drift_score", "not a number", items=(item(drift_score=text("NaN")),)), id="item: score 'NaN'"),
    pytest.param(
        Tick("drift_score", "not a number", items=(item(drift_score={"BOOL": True}),)), id="item: score is a boolean"
    ),
    pytest.param(
        Tick("drift_score", "not a number", items=(item(drift_score={"L": [number("0.9")]}),)),
        id="item: score is a list",
    ),
    pytest.param(
        Tick("drift_score", "missing", items=({"timestamp": text(TICK), "score": number("0.9")},)),
        id="item: score attribute missing",
    ),
    pytest.param(
        Tick("psi", "missing", {"source": {"score_attribute": "psi"}}, items=(item(),)),
        id="item: custom score attribute missing",
    ),
    pytest.param(
        Tick("accuracy", "not a number", guard(below=0.85), items=(item(accuracy=text("high")),)),
        id="item: guard metric is a word",
    ),
    pytest.param(
        Tick("timestamp", "no timezone", items=(item("2024-08-09T00:00:00"),)), id="item: time without a timezone"
    ),
    pytest.param(
        # 18:00-05:00 is 23:00Z: its text sorts 5 hours below its time, so the Query would misplace it.
        Tick("timestamp", "producers must write UTC", items=(item("2024-08-09T18:00:00-05:00"),)),
        id="item: local time with an offset",
    ),
    pytest.param(
        Tick("timestamp", "producers must write UTC", items=(item("20240809T000000Z"),)), id="item: basic ISO form"
    ),
    pytest.param(Tick("timestamp", "not an ISO-8601 time", items=(item("yesterday"),)), id="item: unparsable time"),
    pytest.param(
        Tick("timestamp", "producers must write UTC", items=(item("2024-08-09T00:00Z"),)),
        id="item: time without seconds",
    ),
    pytest.param(
        Tick("timestamp", "ahead of the clock", items=(item("2100-01-01T00:00:00Z"),)),
        id="item: far ahead of the clock",
    ),
    # CloudWatch: what moto cannot return is stubbed (a query's StatusCode); the rest is moto's own.
    pytest.param(Tick(None, "Forbidden", cloudwatch=True, status="Forbidden"), id="cloudwatch: Forbidden query"),
    pytest.param(
        Tick(None, "InternalError", cloudwatch=True, status="InternalError"), id="cloudwatch: InternalError query"
    ),
]


@contextmanager
def metric_status(status: str | None) -> Iterator[None]:
    """GetMetricData answering with a query StatusCode moto never produces, on the handlers' own client."""
    if status is None:
        yield
        return
    client = aws_client("cloudwatch")
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m0_0", "Timestamps": [], "Values": [], "StatusCode": status}]},
        )
        yield


def put_metric(at: str, value: float) -> None:
    aws_client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "drift_score",
                "Dimensions": [{"Name": "MonitorId", "Value": BROKEN}],
                "Timestamp": datetime.fromisoformat(at),
                "Value": value,
            }
        ],
    )


def state(world: World, monitor_id: str = BROKEN) -> dict[str, Any]:
    return world.state_item(monitor_id)


def all_state(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws_client("dynamodb").scan(TableName=world.state_table)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def warned_yesterday(world: World, broken: Mapping[str, Any]) -> None:
    """Day 8: the broken monitor (still valid) crosses its warning level, so it has a state item to keep."""
    world.configure(configuration(broken))
    if broken.get("source", {}).get("type") == "cloudwatch":
        put_metric(DAY8, 0.15)
    else:
        world.score(BROKEN, DAY8, 0.15)
    world.score(HEALTHY, DAY8, 0.05)
    report = world.tick(DAY8)
    assert {m["monitor_id"]: m.get("state_after") for m in report["monitors"]} == {BROKEN: "WARNING", HEALTHY: "OK"}
    world.alerts()  # on-call saw nothing yet: drained so the tick's own alerts are what remains


def error_alerts(world: World) -> list[dict[str, Any]]:
    return [
        json.loads(alert["Message"])
        for alert in world.alerts()
        if alert["MessageAttributes"]["event"]["Value"] == "evaluation_error"
    ]


@pytest.mark.parametrize("case", EVALUATOR_CASES)
def test_bad_input_to_the_evaluator_names_the_monitor_and_the_field_and_harms_nothing_else(
    world: World, case: Tick
) -> None:
    base: dict[str, Any] = {"source": CLOUDWATCH} if case.cloudwatch else {}
    warned_yesterday(world, base)
    before = state(world)
    world.configure(configuration({**base, **case.broken}))
    for score_item in case.items:
        aws_client("dynamodb").put_item(TableName=world.score_table, Item={"monitor_id": text(BROKEN), **score_item})
    world.score(HEALTHY, TICK, 0.15)

    with metric_status(case.status):
        report = world.tick(TICK)

    by_id = {m["monitor_id"]: m for m in report["monitors"]}
    error = by_id[BROKEN]["error"]
    assert by_id[BROKEN]["outcome"] == "error"
    assert (error["monitor_id"], error.get("field")) == (BROKEN, case.field)
    assert case.problem in error["problem"]
    assert (by_id[HEALTHY]["outcome"], by_id[HEALTHY]["state_after"]) == ("transition", "WARNING")
    assert state(world) == before
    assert world.executions() == []
    (alert,) = error_alerts(world)
    assert (alert["monitor_id"], alert.get("field")) == (BROKEN, case.field)


# -- not errors, and never a retraining -------------------------------------------------------------------------


def never_retrained(world: World, report: Mapping[str, Any]) -> None:
    """The broken monitor decided on no datapoint at all: no error, no score, no retraining of any kind."""
    broken = {m["monitor_id"]: m for m in report["monitors"]}[BROKEN]
    assert "error" not in broken
    assert (broken["state_after"], broken.get("score")) == ("WARNING", None)
    assert world.executions() == []
    assert list(drain(aws_client("sqs"), world.queue)) == []


def test_stale_datapoint_counts_as_missing_never_a_retrain(world: World) -> None:
    warned_yesterday(world, {"max_age": "12h"})
    aws_client("dynamodb").put_item(
        TableName=world.score_table, Item={"monitor_id": text(BROKEN), **item("2024-08-08T06:00:00Z")}
    )  # 0.9, far above critical, but 18 hours old at TICK
    world.score(HEALTHY, TICK, 0.15)

    report = world.tick(TICK)

    never_retrained(world, report)
    assert {m["monitor_id"]: m for m in report["monitors"]}[HEALTHY]["state_after"] == "WARNING"


def test_a_cloudwatch_datapoint_after_the_tick_is_not_read_and_never_retrains(world: World) -> None:
    warned_yesterday(world, {"source": CLOUDWATCH | {"period": "1h"}, "max_age": "2h"})
    put_metric("2024-08-09T00:00:01+00:00", 0.9)  # one second after the tick: a late tick must not see it
    world.score(HEALTHY, TICK, 0.15)

    report = world.tick(TICK)

    never_retrained(world, report)


# -- the whole document ------------------------------------------------------------------------------------------


DOCUMENT_CASES = [
    pytest.param("not json", "(document)", "not valid JSON", id="document: not JSON"),
    pytest.param("[" * 2000 + "]" * 2000, "(document)", "nested deeper", id="document: nested 2000 deep"),
    pytest.param(
        json.dumps(configuration({}) | {"description": json.loads("[" * 40 + "]" * 40)}),
        "(document)",
        "nested deeper",
        id="document: nested 40 deep",
    ),
    pytest.param('["a list"]', "(document)", "must be an object", id="document: a list"),
    pytest.param(json.dumps({"defaults": {}, "monitors": []}), "monitors", "non-empty", id="document: no monitors"),
    pytest.param(json.dumps(configuration({}) | {"monitor": []}), "monitor", "unknown", id="document: unknown key"),
    pytest.param(json.dumps({"defaults": 1, "monitors": [{"id": "m"}]}), "defaults", "object", id="document: defaults"),
    pytest.param(
        json.dumps({"defaults": {"id": "x"}, "monitors": [{"id": "m", "critical": 1}]}),
        "defaults.id",
        "belongs to a monitor",
        id="document: id in defaults",
    ),
]


@pytest.mark.parametrize(("document", "field_name", "problem"), DOCUMENT_CASES)
def test_an_unreadable_document_fails_the_tick_with_an_alert_and_touches_no_state(
    world: World, document: str, field_name: str, problem: str
) -> None:
    warned_yesterday(world, {})
    before = all_state(world)
    aws_client("ssm").put_parameter(Name=world.parameter, Value=document, Type="String", Overwrite=True)
    world.score(BROKEN, TICK, 0.9)

    with pytest.raises(ConfigError) as raised:
        world.tick(TICK)

    assert (raised.value.monitor_id, raised.value.field) == ("*", field_name)
    assert problem in raised.value.problem
    assert all_state(world) == before
    assert world.executions() == []
    (alert,) = error_alerts(world)
    assert (alert["monitor_id"], alert["field"]) == ("*", field_name)


# -- the events ----------------------------------------------------------------------------------------------------


def without(name: str, key: str) -> dict[str, Any]:
    loaded = event(name)
    del loaded[key]
    return loaded


def replaced(name: str, **changes: Any) -> dict[str, Any]:
    return event(name) | changes


def detail_without(name: str, key: str) -> dict[str, Any]:
    loaded = event(name)
    del loaded["detail"][key]
    return loaded


@dataclass(frozen=True)
class Event:
    function: str  # "evaluator" or "lifecycle"
    body: Any
    field: str
    problem: str
    monitor: str = "*"


EVENT_CASES = [
    # The scheduled tick.
    pytest.param(
        Event("evaluator", without("scheduled.json", "time"), "event.time", "Field required"), id="tick: no time"
    ),
    pytest.param(
        Event("evaluator", event("scheduled.json", time="2024-08-09T00:00:00"), "event.time", "timezone"),
        id="tick: time without a timezone",
    ),
    pytest.param(
        Event("evaluator", event("scheduled.json", time=1723161600), "event.time", "not int"), id="tick: time a number"
    ),
    pytest.param(
        Event("evaluator", event("scheduled.json", time="Friday"), "event.time", "valid datetime"),
        id="tick: time unparsable",
    ),
    pytest.param(
        Event("evaluator", event("scheduled.json", time="2099-08-09T00:00:00Z"), "event.time", "ahead of the clock"),
        id="tick: far ahead of the clock",
    ),
    pytest.param(
        Event("evaluator", event("scheduled.json", **{"detail-type": 42}), "event.detail-type", "Input should be"),
        id="tick: detail-type a number",
    ),
    pytest.param(
        Event("evaluator", event("scheduled.json", **{"detail-type": "Model Deployed"}), "event.detail-type", "Input"),
        id="tick: another detail-type",
    ),
    pytest.param(Event("evaluator", ["not", "an", "object"], "event", "JSON object"), id="tick: not an object"),
    # The lifecycle events.
    pytest.param(
        Event("lifecycle", without("pipeline-failed.json", "time"), "event.time", "Field required"),
        id="lifecycle: no time",
    ),
    pytest.param(
        Event("lifecycle", event("pipeline-failed.json", time="2024-08-09T02:15:00"), "event.time", "timezone"),
        id="lifecycle: time without a timezone",
    ),
    pytest.param(
        Event(
            "lifecycle",
            event("pipeline-failed.json", **{"detail-type": "Pipeline Paused"}),
            "event.detail-type",
            "unexpected",
        ),
        id="lifecycle: unknown detail-type",
    ),
    pytest.param(
        Event(
            "lifecycle",
            event("pipeline-failed.json", detail={"currentPipelineExecutionStatus": "Paused"}),
            "event.detail.currentPipelineExecutionStatus",
            "Input should be",
        ),
        id="lifecycle: unknown pipeline status",
    ),
    pytest.param(
        Event(
            "lifecycle",
            detail_without("pipeline-failed.json", "pipelineExecutionArn"),
            "event.detail.pipelineExecutionArn",
            "Field required",
        ),
        id="lifecycle: no execution ARN",
    ),
    pytest.param(
        Event("lifecycle", replaced("pipeline-failed.json", detail="Failed"), "event.detail", "valid dictionary"),
        id="lifecycle: detail not an object",
    ),
    pytest.param(
        Event(
            "lifecycle",
            event("retraining-finished.json", detail={"status": "Done"}),
            "event.detail.status",
            "Input should be",
            BROKEN,
        ),
        id="lifecycle: unknown CI status",
    ),
    pytest.param(
        Event(
            "lifecycle",
            detail_without("retraining-finished.json", "monitor_id"),
            "event.detail.monitor_id",
            "Field required",
        ),
        id="lifecycle: CI event without monitor_id",
    ),
    pytest.param(
        Event(
            "lifecycle",
            event("retraining-finished.json", detail={"monitor_id": 7}),
            "event.detail.monitor_id",
            "valid string",
            "7",
        ),
        id="lifecycle: monitor_id a number",
    ),
    pytest.param(
        Event(
            "lifecycle",
            event("retraining-finished.json", detail={"attempt": "second"}),
            "event.detail.attempt",
            "valid integer",
            BROKEN,
        ),
        id="lifecycle: attempt a word",
    ),
    pytest.param(
        Event(
            "lifecycle",
            detail_without("model-deployed.json", "monitor_id"),
            "event.detail.monitor_id",
            "Field required",
        ),
        id="lifecycle: deployment without monitor_id",
    ),
]


@pytest.mark.parametrize("case", EVENT_CASES)
def test_a_malformed_event_fails_the_invocation_naming_the_field_and_writes_nothing(world: World, case: Event) -> None:
    warned_yesterday(world, {})
    before = all_state(world)
    world.score(BROKEN, TICK, 0.9)  # what a tick that went through would retrain on
    handler = world.evaluator if case.function == "evaluator" else world.lifecycle

    with pytest.raises(BadInput) as raised:
        handler.lambda_handler(case.body, context())

    assert (raised.value.monitor_id, raised.value.field) == (case.monitor, case.field)
    assert case.problem in raised.value.problem
    assert all_state(world) == before
    assert world.executions() == []
    assert list(drain(aws_client("sqs"), world.queue)) == []
