"""Exactly once when things fail: actions that fail are retried with the same key, leases stop double runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.service import evaluate_due_monitors
from retrain_trigger_local.world import drain
from tests.support.world import PIPELINE, TICK, World, context, event

NOW = datetime(2024, 8, 9, tzinfo=UTC)


def test_a_failed_pipeline_start_is_retried_on_the_next_tick_with_the_same_key(world: World) -> None:
    aws_client("sagemaker").delete_pipeline(PipelineName=PIPELINE, ClientRequestToken="x" * 32)
    world.score("churn-model", TICK, 0.2186)

    first = world.tick()
    assert [(a["kind"], a["status"]) for a in first["monitors"][0]["actions"]] == [
        ("sagemaker", "retry"),  # sqs, event and the retraining alert wait behind it
        ("sns", "done"),  # the failure's own alert does not wait
    ]
    (failure,) = world.alerts()
    assert failure["MessageAttributes"]["event"]["Value"] == "action_failed"
    aws_client("sagemaker").create_pipeline(
        PipelineName=PIPELINE, RoleArn="arn:aws:iam::123456789012:role/pipeline", PipelineDefinition="{}"
    )
    second = world.tick("2024-08-09T01:00:00Z")

    actions = second["monitors"][0]["actions"]
    assert [(a["kind"], a["status"]) for a in actions] == [
        ("sagemaker", "done"),
        ("sqs", "done"),
        ("eventbridge", "done"),
        ("sns", "done"),
    ]
    assert {a["key"] for a in actions} == {"churn-model@20240809T000000Z#1:retrain_started"}
    assert len(world.executions()) == 1
    assert len(world.alerts()) == 1


def test_a_lease_left_by_a_crashed_invocation_blocks_others_until_it_expires(world: World) -> None:
    world.score("churn-model", TICK, 0.2186)
    deps = wiring.default_deps(owner="crashed")
    with pytest.raises(SystemExit):  # commits the transition and its lease, then dies before acting
        evaluate_due_monitors(NOW, replace(deps, actions=_Crash()))
    lease_end = datetime.now(UTC) + deps.lease
    before_expiry = replace(deps, owner="other", wall_clock=lambda: lease_end - timedelta(seconds=1))
    after_expiry = replace(deps, owner="other", wall_clock=lambda: lease_end + timedelta(seconds=1))

    during = evaluate_due_monitors(NOW, before_expiry)
    assert {a["status"] for a in during.results[0].actions} == {"lease_held"}
    assert world.executions() == []

    after = evaluate_due_monitors(NOW, after_expiry)
    assert [a["status"] for a in after.results[0].actions] == ["done"] * 4
    assert len(world.executions()) == 1
    assert len(list(drain(aws_client("sqs"), world.queue))) == 1


def test_a_lifecycle_event_replayed_twice_changes_the_state_once(world: World) -> None:
    world.score("churn-model", TICK, 0.2186)
    report = world.tick()
    (arn,) = [a["result"] for a in report["monitors"][0]["actions"] if a["kind"] == "sagemaker"]
    failed = event("pipeline-failed.json", detail={"pipelineExecutionArn": arn, "pipelineExecutionDescription": ""})
    world.alerts()

    first = world.lifecycle.lambda_handler(failed, context())
    again = world.lifecycle.lambda_handler(failed, context())
    world.tick("2024-08-09T01:00:00Z")

    assert (first["outcome"], again["outcome"]) == ("transition", "ignored")
    assert len(world.alerts()) == 1


class _Crash:
    """An action gateway whose process dies on the first call (BaseException: nothing catches it)."""

    def _die(self, *_: object) -> str:
        raise SystemExit("invocation killed")

    publish_alert = send_retrain_request = start_pipeline = put_event = _die
