"""Approval and acknowledgement through the real handlers (evaluator + lifecycle), on resources built from
template.yaml under moto, with the sample events in events/*.json."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.errors import BadInput
from retrain_trigger_local.world import drain
from tests.support.stacks import Deploy, capture_lambda_targets, client
from tests.support.world import TICK, World, context, event

EPISODE = "churn-model@20240809T000000Z"


def requiring_approval(world: World, **keys: Any) -> None:
    document = json.loads(aws_client("ssm").get_parameter(Name=world.parameter)["Parameter"]["Value"])
    document["monitors"][0] |= {"approval": "required", **keys}
    world.configure(document)


class Clock:
    """The functions' wall clock: a bus event is dated when it arrives, and a tick may not be ahead of it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
        self.set(when)
        monkeypatch.setattr(wiring, "wall_clock", lambda: self.now)
        wiring.reset()

    def set(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).astimezone(UTC)


def awaiting(world: World) -> dict[str, Any]:
    requiring_approval(world)
    world.score("churn-model", TICK, 0.2186)
    return world.tick()


def test_a_retraining_that_needs_approval_waits_and_alerts_how_to_approve(world: World) -> None:
    report = awaiting(world)

    assert report["monitors"][0]["state_after"] == "AWAITING_APPROVAL"
    assert world.executions() == []
    assert list(drain(aws_client("sqs"), world.queue)) == []
    (alert,) = world.alerts()
    assert alert["Subject"] == "[CRITICAL] churn-model drift 0.2186 > 0.2: retraining awaits approval"
    reason = json.loads(alert["Message"])["reason"]
    assert f"retrain-trigger approve churn-model {EPISODE} --stack STACK" in reason
    assert f"retrain-trigger reject churn-model {EPISODE} --stack STACK" in reason
    assert '"Retraining Approved"' in reason and '"Retraining Rejected"' in reason
    assert alert["MessageAttributes"]["idempotency_key"]["Value"] == f"{EPISODE}#1:approval_requested"


def test_the_approved_event_starts_one_pipeline_even_when_it_arrives_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    awaiting(world)
    clock = Clock(monkeypatch, "2024-08-09T06:00:00Z")

    first = world.lifecycle.lambda_handler(event("retraining-approved.json"), context())
    again = world.lifecycle.lambda_handler(event("retraining-approved.json"), context())
    clock.set("2024-08-09T08:00:00Z")
    world.tick("2024-08-09T07:00:00Z")
    world.tick("2024-08-09T08:00:00Z")

    assert (first["verdict"], first["state_after"]) == ("done", "RETRAINING")
    assert (again["verdict"], again["state_after"]) == ("already", "RETRAINING")
    (execution,) = world.executions()
    assert len(list(drain(aws_client("sqs"), world.queue))) == 1
    assert world.state_item()["execution_arn"]["S"] == execution["PipelineExecutionArn"]


def test_the_rejected_event_keeps_the_episode_in_alarm_without_a_pipeline(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    awaiting(world)
    clock = Clock(monkeypatch, "2024-08-09T06:00:00Z")

    result = world.lifecycle.lambda_handler(event("retraining-rejected.json"), context())
    clock.set("2024-08-09T07:00:00Z")
    world.score("churn-model", "2024-08-09T07:00:00Z", 0.3)
    report = world.tick("2024-08-09T07:00:00Z")

    assert (result["verdict"], result["state_after"]) == ("done", "ALARM")
    assert report["monitors"][0]["state_after"] == "ALARM"
    assert "retraining rejected by an operator" in report["monitors"][0]["reason"]
    assert world.executions() == []


def test_an_approval_for_another_episode_is_answered_and_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    awaiting(world)
    Clock(monkeypatch, "2024-08-09T06:00:00Z")
    wrong = event("retraining-approved.json", detail={"episode_id": "churn-model@20240101T000000Z"})

    result = world.lifecycle.lambda_handler(wrong, context())

    assert result["verdict"] == "wrong_episode" and EPISODE in result["message"]
    assert world.state_item()["status"]["S"] == "AWAITING_APPROVAL"


def test_an_unanswered_request_expires_with_an_error_alert(world: World) -> None:
    awaiting(world)
    world.alerts()
    world.score("churn-model", "2024-08-11T00:00:00Z", 0.3)

    report = world.tick("2024-08-11T00:00:00Z")

    assert report["monitors"][0]["state_after"] == "ALARM"
    (alert,) = world.alerts()
    assert alert["Subject"] == "[ERROR] churn-model approval request expired: no retraining"
    assert world.executions() == []


def test_an_acknowledged_alarm_is_not_repeated(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # given an ALARM (retraining blocked by the grace period of a deployment) that repeats every hour
    document = json.loads(aws_client("ssm").get_parameter(Name=world.parameter)["Parameter"]["Value"])
    document["monitors"][0] |= {"renotify_every": "1h", "grace_period": "3d"}
    world.configure(document)
    clock = Clock(monkeypatch, "2024-08-08T12:00:00Z")
    world.lifecycle.lambda_handler(event("model-deployed.json"), context())
    clock.set("2024-08-09T04:00:00Z")
    world.score("churn-model", TICK, 0.2186)
    world.tick()
    world.alerts()

    acked = world.lifecycle.lambda_handler(event("alert-acknowledged.json"), context())
    for hour in ("01", "02", "03"):
        world.score("churn-model", f"2024-08-09T{hour}:00:00Z", 0.3)
        world.tick(f"2024-08-09T{hour}:00:00Z")

    assert (acked["verdict"], acked["state_after"]) == ("done", "ALARM")
    assert world.alerts() == []


def test_a_malformed_approval_names_the_missing_field(world: World) -> None:
    awaiting(world)
    bad = event("retraining-approved.json")
    del bad["detail"]["episode_id"]

    with pytest.raises(BadInput) as error:
        world.lifecycle.lambda_handler(bad, context())

    assert error.value.field == "event.detail.episode_id" and error.value.monitor_id == "churn-model"


def test_the_operator_events_reach_the_lifecycle_function_through_the_template_rule(deploy: Deploy) -> None:
    stack = deploy()
    events = client("events")
    inboxes = capture_lambda_targets(None, stack)

    for name in ("alert-acknowledged.json", "retraining-approved.json", "retraining-rejected.json"):
        sample = event(name)
        entry = {
            "Source": sample["source"],
            "DetailType": sample["detail-type"],
            "Detail": json.dumps(sample["detail"]),
        }
        assert (
            events.put_events(Entries=[{**entry, "EventBusName": stack.outputs["EventBusName"]}])["FailedEntryCount"]
            == 0
        )
    forged = {"Source": "someone.else", "DetailType": "Retraining Approved", "Detail": "{}"}
    events.put_events(Entries=[{**forged, "EventBusName": stack.outputs["EventBusName"]}])

    messages = client("sqs").receive_message(QueueUrl=inboxes["LifecycleFunction"], MaxNumberOfMessages=10)
    received = sorted(json.loads(m["Body"])["detail-type"] for m in messages.get("Messages", []))
    assert received == ["Alert Acknowledged", "Retraining Approved", "Retraining Rejected"]
