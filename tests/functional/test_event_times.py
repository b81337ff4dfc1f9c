"""Time is bounded by the clock (issue 13, items 1 and 2): the real handlers on moto, resources from template.yaml.

A shard of an older tick redelivered after the next tick committed changes nothing and is counted `StaleTicks`.
A lifecycle or deploy event stamped in the future is not believed: the project bus's CI events are dated when they
are received, SageMaker's never after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from retrain_trigger import shards, wiring
from retrain_trigger.ports import Shard
from tests.support.world import PIPELINE, TICK, World, context, event

T0 = datetime.fromisoformat(TICK)
DOCUMENT: dict[str, Any] = {
    "defaults": {"critical": 0.2, "reset": 0.15, "grace_period": "1d", "cooldown": "0s"},
    "monitors": [{"id": "churn-model", "actions": {"pipeline": {"name": PIPELINE}}}],
}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def clock(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """The Lambda's wall clock, set by the test (the handlers read it through wiring, the domain never)."""
    now = [T0]
    monkeypatch.setattr(wiring, "wall_clock", lambda: now[0])
    wiring.reset()
    world.configure(DOCUMENT)

    def set_to(at: datetime) -> None:
        now[0] = at

    return set_to


def shard_record(at: datetime) -> dict[str, Any]:
    """The shard queue's message for the tick at `at`, as Lambda hands it to the evaluator."""
    body = shards.encode(Shard(now=at, due=("churn-model",), waiting=()))
    return {
        "Records": [
            {
                "messageId": f"shard-{at:%H%M}",
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:shards",
                "awsRegion": "us-east-1",
            }
        ]
    }


def execution_arn(world: World) -> str:
    (summary,) = world.executions()
    return str(summary["PipelineExecutionArn"])


# -- item 1: a shard redelivered after the next tick --------------------------------------------------------------


def test_a_shard_redelivered_after_the_next_tick_starts_no_pipeline_and_counts_a_stale_tick(
    world: World, clock: Callable[[datetime], None], capsys: pytest.CaptureFixture[str]
) -> None:
    world.score("churn-model", TICK, 0.5)
    world.evaluator.lambda_handler(shard_record(T0), context())  # attempt 1 starts
    clock(T0 + timedelta(minutes=30))
    failed = event("pipeline-failed.json", detail={"pipelineExecutionArn": execution_arn(world)})
    world.lifecycle.lambda_handler(failed | {"time": iso(T0 + timedelta(minutes=30))}, context())
    clock(T0 + timedelta(hours=1))
    world.score("churn-model", iso(T0 + timedelta(hours=1)), 0.05)
    world.tick(iso(T0 + timedelta(hours=1)))  # below reset: the episode closes
    clock(T0 + timedelta(hours=1, minutes=20))
    capsys.readouterr()

    result = world.evaluator.lambda_handler(shard_record(T0), context())  # T0's shard, after its visibility timeout

    assert result == {"batchItemFailures": []}
    assert len(world.executions()) == 1
    assert json.loads(world.state_item()["state"]["S"])["status"] == "OK"
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(b.get("StaleTicks") == [1.0] for b in blobs)


# -- item 2: event times ahead of the clock ------------------------------------------------------------------------


def test_a_retraining_finished_stamped_30_days_ahead_does_not_put_grace_or_evidence_in_the_future(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.score("churn-model", TICK, 0.5)
    world.tick()  # attempt 1 starts
    received = T0 + timedelta(hours=4)
    clock(received)
    finished = event("retraining-finished.json", time=iso(received + timedelta(days=30)))

    world.lifecycle.lambda_handler(finished, context())

    state = json.loads(world.state_item()["state"]["S"])
    assert state["status"] == "RETRAINED"
    assert datetime.fromisoformat(state["evidence_after"]) == received
    assert datetime.fromisoformat(state["grace_until"]) == received + timedelta(days=1)


def test_after_a_retraining_finished_stamped_ahead_a_later_drift_still_alerts_and_retrains(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.configure({**DOCUMENT, "defaults": {**DOCUMENT["defaults"], "retrain_on_persisting_drift": True}})
    world.score("churn-model", TICK, 0.5)
    world.tick()
    clock(T0 + timedelta(hours=4))
    world.lifecycle.lambda_handler(event("retraining-finished.json", time=iso(T0 + timedelta(days=30))), context())
    world.alerts()
    later = T0 + timedelta(days=2)
    clock(later)
    world.score("churn-model", iso(later), 0.5)

    report = world.tick(iso(later))

    assert report["monitors"][0]["outcome"] == "transition"
    assert [a["MessageAttributes"]["event"]["Value"] for a in world.alerts()] == ["retrain_started"]
    assert len(world.executions()) == 2


def test_a_model_deployed_stamped_a_year_ahead_does_not_block_retraining_for_a_year(
    world: World, clock: Callable[[datetime], None]
) -> None:
    clock(T0)
    world.lifecycle.lambda_handler(event("model-deployed.json", time=iso(T0 + timedelta(days=365))), context())
    later = T0 + timedelta(days=2)  # the grace period (1 day) from when the event was received is over
    clock(later)
    world.score("churn-model", iso(later), 0.5)

    world.tick(iso(later))

    assert len(world.executions()) == 1


def test_a_sagemaker_status_stamped_ahead_of_the_clock_is_dated_when_it_was_received(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.score("churn-model", TICK, 0.5)
    world.tick()
    received = T0 + timedelta(hours=2)
    clock(received)
    succeeded = event(
        "pipeline-succeeded.json",
        time=iso(received + timedelta(days=30)),
        detail={"pipelineExecutionArn": execution_arn(world), "pipelineExecutionDescription": ""},
    )

    world.lifecycle.lambda_handler(succeeded, context())

    state = json.loads(world.state_item()["state"]["S"])
    assert datetime.fromisoformat(state["grace_until"]) == received + timedelta(days=1)


def test_a_sagemaker_status_delivered_late_keeps_its_own_earlier_time(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.score("churn-model", TICK, 0.5)
    world.tick()
    finished = T0 + timedelta(hours=2)
    clock(finished + timedelta(hours=5))  # EventBridge retried the delivery for hours
    succeeded = event(
        "pipeline-succeeded.json",
        time=iso(finished),
        detail={"pipelineExecutionArn": execution_arn(world), "pipelineExecutionDescription": ""},
    )

    world.lifecycle.lambda_handler(succeeded, context())

    state = json.loads(world.state_item()["state"]["S"])
    assert datetime.fromisoformat(state["grace_until"]) == finished + timedelta(days=1)
