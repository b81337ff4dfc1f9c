"""template.yaml's operational promises: failed asynchronous invocations are kept and paged, and alarms watch the
metrics the functions really emit, the heartbeat included, whatever the tick.

Alarms are read from the stack moto creates from template.yaml; the heartbeat's period for each allowed tick from
the template's own conditions; the emitted metrics from a real evaluator run (EMF on stdout).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger_local.deploy import StackInfo
from retrain_trigger_local.intrinsics import ParameterError, effective_parameters, evaluate_conditions
from retrain_trigger_local.sam_package import translate_template
from retrain_trigger_local.template import read_template
from tests.support import resources as support
from tests.support.crash import Clock, InvocationKilled, killed
from tests.support.stacks import Deploy, client
from tests.support.world import TICK, World

REGION = "us-east-1"
EMF_NAMESPACE = "RetrainTrigger"
ALLOWED_TICKS = [str(v) for v in read_template()["Parameters"]["TickMinutes"]["AllowedValues"]]


def alarm(stack: StackInfo, logical_id: str) -> dict[str, Any]:
    (found,) = client("cloudwatch").describe_alarms(AlarmNames=[stack.physical_ids[logical_id]])["MetricAlarms"]
    return dict(found)


def resolve_ifs(node: Any, conditions: dict[str, bool]) -> Any:
    """`node` with each Fn::If replaced by the branch its condition picks."""
    if isinstance(node, list):
        return [resolve_ifs(item, conditions) for item in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return resolve_ifs(when_true if conditions[condition] else when_false, conditions)
        return {key: resolve_ifs(value, conditions) for key, value in node.items()}
    return node


def alarm_properties(tick_minutes: str) -> dict[str, dict[str, Any]]:
    """Every alarm's properties as CloudFormation would create them with this TickMinutes."""
    template = read_template()
    conditions = evaluate_conditions(template, effective_parameters(template, {"TickMinutes": tick_minutes}))
    return {
        logical_id: resolve_ifs(resource["Properties"], conditions)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def service_dimension() -> list[dict[str, str]]:
    """The one dimension Powertools puts on every metric: the service name the template gives both functions."""
    variables = read_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == EMF_NAMESPACE
    return [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]


# --- failed asynchronous invocations ----------------------------------------------------------------------------


def test_failed_asynchronous_invocations_of_both_functions_go_to_the_failure_queue_after_two_retries() -> None:
    resources = translate_template(read_template())["Resources"]

    ages = {}
    for function in ("EvaluatorFunction", "LifecycleFunction"):
        config = resources[f"{function}EventInvokeConfig"]["Properties"]
        assert config["FunctionName"] == {"Ref": function}
        assert config["Qualifier"] == "$LATEST"
        assert config["MaximumRetryAttempts"] == 2
        assert config["DestinationConfig"] == {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["FunctionFailureQueue", "Arn"]}}
        }
        ages[function] = config["MaximumEventAgeInSeconds"]
    # A tick an hour late has been overtaken by newer ones; an outcome event is worth Lambda's full six hours.
    assert ages == {"EvaluatorFunction": 3600, "LifecycleFunction": 21600}


def test_the_failure_queue_is_a_standard_encrypted_queue_that_keeps_failures_14_days(stack: StackInfo) -> None:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["FunctionFailureQueueUrl"], AttributeNames=["All"]
    )["Attributes"]

    assert "FifoQueue" not in attributes  # Lambda destinations take standard queues only
    assert (attributes["SqsManagedSseEnabled"], attributes["MessageRetentionPeriod"]) == ("true", "1209600")


def test_a_message_in_the_failure_queue_pages_the_alert_topic(stack: StackInfo) -> None:
    found = alarm(stack, "FunctionFailureAlarm")

    queue_name = stack.outputs["FunctionFailureQueueUrl"].rsplit("/", 1)[1]
    assert (found["Namespace"], found["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert found["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    assert (found["Statistic"], found["ComparisonOperator"], found["Threshold"]) == (
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1.0,
    )
    assert found["AlarmActions"] == [stack.outputs["AlertTopicArn"]]


# --- alarms on the functions' own metrics -----------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", ["ActionFailuresAlarm", "ActionsUnconfirmedAlarm", "EvaluationErrorsAlarm"])
def test_the_first_failed_action_or_evaluation_pages_the_alert_topic(stack: StackInfo, logical_id: str) -> None:
    found = alarm(stack, logical_id)

    assert (found["Namespace"], found["Dimensions"]) == (EMF_NAMESPACE, service_dimension())
    assert (found["Statistic"], found["Period"], found["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert (found["ComparisonOperator"], found["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1.0)
    assert found["TreatMissingData"] == "notBreaching"  # no failure, no metric
    assert found["AlarmActions"] == [stack.outputs["AlertTopicArn"]]


def test_insufficient_data_pages_when_it_recurs_in_two_hours_within_two_days(stack: StackInfo) -> None:
    found = alarm(stack, "InsufficientDataAlarm")

    assert (found["MetricName"], found["Namespace"], found["Dimensions"]) == (
        "InsufficientData",
        EMF_NAMESPACE,
        service_dimension(),
    )
    assert (found["Period"], found["EvaluationPeriods"], found["DatapointsToAlarm"]) == (3600, 48, 2)
    assert (found["Statistic"], found["ComparisonOperator"], found["Threshold"]) == (
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1.0,
    )
    assert found["TreatMissingData"] == "notBreaching"
    assert found["AlarmActions"] == [stack.outputs["AlertTopicArn"]]


def test_the_heartbeat_pages_when_the_evaluator_has_not_reported_for_two_ticks(deploy: Deploy) -> None:
    stack = deploy(TickMinutes="5")

    found = alarm(stack, "HeartbeatAlarm")

    assert (found["MetricName"], found["Namespace"], found["Dimensions"]) == (
        "MonitorsEvaluated",
        EMF_NAMESPACE,
        service_dimension(),
    )
    assert (found["Period"], found["EvaluationPeriods"], found["DatapointsToAlarm"]) == (300, 2, 2)
    # No datapoint at all is the failure it exists for.
    assert (found["Statistic"], found["ComparisonOperator"], found["Threshold"]) == (
        "SampleCount",
        "LessThanThreshold",
        1.0,
    )
    assert found["TreatMissingData"] == "breaching"
    assert found["AlarmActions"] == [stack.outputs["AlertTopicArn"]]


@pytest.mark.parametrize("tick_minutes", ALLOWED_TICKS)
def test_the_heartbeat_period_is_the_tick_for_every_allowed_tick(tick_minutes: str) -> None:
    heartbeat = alarm_properties(tick_minutes)["HeartbeatAlarm"]

    assert heartbeat["Period"] == int(tick_minutes) * 60


@pytest.mark.parametrize("tick_minutes", ALLOWED_TICKS)
def test_every_alarm_is_one_cloudwatch_accepts_whatever_the_tick(tick_minutes: str) -> None:
    for logical_id, props in alarm_properties(tick_minutes).items():
        period, periods = int(props["Period"]), int(props["EvaluationPeriods"])
        assert period in (10, 20, 30) or period % 60 == 0, logical_id
        # PutMetricAlarm: Period x EvaluationPeriods at most 7 days, and at most 1 day for periods under an hour.
        assert period * periods <= (86_400 if period < 3600 else 604_800), logical_id
        assert int(props.get("DatapointsToAlarm", periods)) <= periods, logical_id
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}], logical_id


@pytest.mark.parametrize("tick_minutes", ["7", "2880", "060"])
def test_a_tick_the_heartbeat_cannot_follow_is_rejected(tick_minutes: str) -> None:
    with pytest.raises(ParameterError, match="TickMinutes"):
        effective_parameters(read_template(), {"TickMinutes": tick_minutes})


# --- the alarms watch what the functions emit -------------------------------------------------------------------


def default_configuration() -> dict[str, Any]:
    """The configuration document the stack writes into its SSM parameter, with the parameters' defaults."""
    value = support.resolve(read_template()["Resources"]["MonitorConfigParameter"]["Properties"]["Value"])
    document: dict[str, Any] = json.loads(value)
    return document


def emitted(capsys: pytest.CaptureFixture[str]) -> dict[str, list[dict[str, str]]]:
    """The EMF metrics printed since the last call: each metric's name, with its namespace and dimension values."""
    found: dict[str, list[dict[str, str]]] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            (dimension_names,) = directive["Dimensions"]
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).append(
                    {"Namespace": directive["Namespace"], **{name: blob[name] for name in dimension_names}}
                )
    return found


def test_the_alarmed_metrics_are_the_ones_the_evaluator_emits(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    template_alarms = alarm_properties("60")
    watched = {
        props["MetricName"]: {"Namespace": props["Namespace"], **{d["Name"]: d["Value"] for d in props["Dimensions"]}}
        for props in template_alarms.values()
        if props["Namespace"] == EMF_NAMESPACE
    }
    assert set(watched) == {
        "ActionFailures",
        "ActionsUnconfirmed",
        "EvaluationErrors",
        "InsufficientData",
        "MonitorsEvaluated",
    }
    document = default_configuration()
    (monitor,) = document["monitors"]
    world.configure(
        {
            **document,
            "monitors": [
                {**monitor, "id": "killed"},  # its retrain request's invocation died: unconfirmed on the retry
                {**monitor, "id": "blind"},  # no scores: insufficient data
                {**monitor, "id": "garbled"},  # a score that is not a number: an evaluation error
                {**monitor, "id": "orphan", "actions": {**monitor["actions"], "pipeline": {"name": "no-such"}}},
            ],
        }
    )
    world.score("garbled", TICK, "high")
    world.score("orphan", TICK, 0.2186)  # breaching: its pipeline start fails
    world.score("killed", TICK, 0.2186)
    clock = Clock()
    monkeypatch.setattr(wiring, "wall_clock", clock)
    with killed("sqs", "SendMessage", after_the_call=True), pytest.raises(InvocationKilled):
        world.tick()
    clock.advance()  # Lambda's retry of the tick, after the dead invocation's lease
    capsys.readouterr()

    world.tick()

    metrics = emitted(capsys)
    for name, identity in watched.items():
        assert identity in metrics.get(name, []), f"{name} {identity} not among {metrics.get(name)}"
