"""Fan-out: a tick with more due monitors than SHARD_SIZE is sent as shards to the shard queue (built from
template.yaml), and the same evaluator handler consumes them with partial batch failures (moto, real handlers)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.world import drain
from tests.support import resources
from tests.support.world import TICK, World, context

if TYPE_CHECKING:
    from tests.functional.conftest import RecordCalls

MONITORS = [f"model-{i}" for i in range(5)]


@pytest.fixture
def shard_queue(world: World, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's shard queue (and its DLQ), SHARD_SIZE 2, five monitors whose scores breach."""
    url = resources.create_queue(aws_client("sqs"), "ShardQueue")
    monkeypatch.setenv("SHARD_QUEUE_URL", url)
    monkeypatch.setenv("SHARD_SIZE", "2")
    world.configure({"defaults": {"critical": 0.2}, "monitors": [{"id": m} for m in MONITORS]})
    for monitor_id in MONITORS:
        world.score(monitor_id, TICK, 0.5)
    from retrain_trigger import wiring  # noqa: PLC0415

    wiring.reset()
    return url


def sqs_event(messages: list[dict[str, Any]], queue: str) -> dict[str, Any]:
    """Lambda's SQS event for these received messages."""
    arn = f"arn:aws:sqs:{resources.REGION}:{resources.ACCOUNT_ID}:{queue.rsplit('/', 1)[1]}"
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": resources.REGION,
            }
            for m in messages
        ]
    }


def states(world: World) -> dict[str, tuple[str, int]]:
    found = {}
    for monitor_id in MONITORS:
        item = aws_client("dynamodb").get_item(
            TableName=world.state_table, Key={"pk": {"S": f"monitor#{monitor_id}"}, "sk": {"S": "state"}}
        )
        if "Item" in item:
            found[monitor_id] = (item["Item"]["status"]["S"], int(item["Item"]["version"]["N"]))
    return found


def test_a_tick_beyond_the_shard_size_sends_shards_and_evaluates_none_itself(
    world: World, shard_queue: str, record_calls: RecordCalls
) -> None:
    sends = record_calls(aws_client("sqs"), "SendMessageBatch")

    report = world.tick()

    assert (report["shards"], report["evaluated"]) == (3, 0)
    assert states(world) == {}
    assert len(sends) == 1  # three shards, one SendMessageBatch (ten a call)
    shards = [json.loads(m["Body"]) for m in list(drain(aws_client("sqs"), shard_queue))]
    assert sorted(tuple(s["due"]) for s in shards) == [("model-0", "model-1"), ("model-2", "model-3"), ("model-4",)]
    assert {s["now"] for s in shards} == {"2024-08-09T00:00:00+00:00"}


def test_the_evaluator_consumes_the_shards_and_each_monitor_is_decided_once(world: World, shard_queue: str) -> None:
    world.tick()
    messages = list(drain(aws_client("sqs"), shard_queue))

    response = world.evaluator.lambda_handler(sqs_event(messages, shard_queue), context())

    assert response == {"batchItemFailures": []}
    assert {m: status for m, (status, _version) in states(world).items()} == dict.fromkeys(MONITORS, "RETRAINING")
    requests = list(drain(aws_client("sqs"), world.queue))
    assert sorted(json.loads(r["Body"])["monitor_id"] for r in requests) == MONITORS


def test_a_shard_evaluated_twice_changes_nothing(world: World, shard_queue: str) -> None:
    world.tick()
    event = sqs_event(list(drain(aws_client("sqs"), shard_queue)), shard_queue)
    world.evaluator.lambda_handler(event, context())
    after_first = states(world)
    list(drain(aws_client("sqs"), world.queue))

    response = world.evaluator.lambda_handler(event, context())  # redelivered: a visibility timeout ran out

    assert response == {"batchItemFailures": []}
    assert states(world) == after_first
    assert list(drain(aws_client("sqs"), world.queue)) == []


def test_a_malformed_shard_fails_alone_and_the_others_are_evaluated(world: World, shard_queue: str) -> None:
    world.tick()
    messages = list(drain(aws_client("sqs"), shard_queue))
    broken = {**messages[0], "MessageId": "broken", "Body": json.dumps({"due": ["model-0"]})}  # no tick time

    response = world.evaluator.lambda_handler(sqs_event([broken, *messages], shard_queue), context())

    assert response == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert set(states(world)) == set(MONITORS)


def test_a_tick_within_the_shard_size_is_evaluated_by_the_scheduled_invocation_itself(
    world: World, shard_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARD_SIZE", "5")
    from retrain_trigger import wiring  # noqa: PLC0415

    wiring.reset()

    report = world.tick()

    assert "shards" not in report
    assert report["evaluated"] == 5
    assert list(drain(aws_client("sqs"), shard_queue)) == []


# --- the heartbeat counts evaluations that happened (issue 13 item 8) -------------------------------------------


def emf_values(capsys: pytest.CaptureFixture[str]) -> dict[str, list[float]]:
    """Every EMF metric printed since the last call: its name and the values it carried, as CloudWatch reads them."""
    found: dict[str, list[float]] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return found


def test_a_fan_out_tick_counts_shards_sent_and_only_shard_invocations_count_monitors_evaluated(
    world: World, shard_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    world.tick()

    sent = emf_values(capsys)
    assert "MonitorsEvaluated" not in sent  # nothing was evaluated yet: the heartbeat must not hear this tick
    assert sent["ShardsSent"] == [3]

    messages = list(drain(aws_client("sqs"), shard_queue))
    for message in messages:  # one shard an invocation, as the template's mapping delivers them
        world.evaluator.lambda_handler(sqs_event([message], shard_queue), context())

    evaluated = emf_values(capsys)
    assert sorted(evaluated["MonitorsEvaluated"]) == [1, 2, 2]
    assert "ShardsSent" not in evaluated
