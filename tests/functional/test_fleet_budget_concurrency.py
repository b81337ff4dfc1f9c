"""32 shard invocations of one tick at once, on moto through the real evaluator: the fleet budget is never
overspent, and a redelivered tick takes nothing twice.

DynamoDB applies each write, and each transaction, atomically. moto 5 does not across threads: a cancelled
transaction restores a deep copy of the whole table taken when it began, wiping what other threads wrote
meanwhile. `atomic_moto_writes` makes each of moto's DynamoDB operations atomic, as DynamoDB's are; everything of ours
(deciding, taking, committing, delivering) still interleaves freely between them.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from retrain_trigger import shards, wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.adapters.fleet_budget import BUDGET_PK, RUNNING_SK
from retrain_trigger.ports import Shard
from retrain_trigger_local.world import drain
from tests.support import resources
from tests.support.world import TICK, World, context

SHARDS = 32
LIMIT = 5
MONITORS = [f"model-{i:02d}" for i in range(SHARDS * 2)]


def shard_record(shard: Shard, n: int) -> dict[str, Any]:
    """Lambda's SQS event record for one shard, as the template's event source mapping delivers it."""
    return {
        "messageId": f"shard-{n}",
        "receiptHandle": f"receipt-{n}",
        "body": shards.encode(shard),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{resources.REGION}:{resources.ACCOUNT_ID}:ShardQueue",
        "awsRegion": resources.REGION,
    }


def invoke_at_once(world: World, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(events))

    def one(event: dict[str, Any]) -> None:
        start.wait()
        try:
            results.append(world.evaluator.lambda_handler(event, context()))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def budget_item(world: World, sk: str) -> set[str]:
    item = aws_client("dynamodb").get_item(
        TableName=world.state_table, Key={"pk": {"S": BUDGET_PK}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return set(item.get("Item", {}).get("taken", {}).get("SS", []))


@pytest.fixture
def atomic_moto_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.RLock()
    # Reads too: moto's reads iterate the dicts its writes change ("dictionary changed size during iteration").
    writes = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
    for name in (*writes, "get_item", "batch_get_item", "query", "scan"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: DynamoDBBackend, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


@pytest.fixture
def fleet(world: World, atomic_moto_writes: None) -> list[dict[str, Any]]:
    """64 breaching monitors in 32 shards, a budget of 5 an hour and 8 at once: one event per shard."""
    world.configure(
        {
            "fleet": {"max_retrains_per_hour": LIMIT, "max_concurrent_retrains": 8},
            "defaults": {"critical": 0.2},
            "monitors": [{"id": m} for m in MONITORS],
        }
    )
    for monitor_id in MONITORS:
        world.score(monitor_id, TICK, 0.5)
    wiring.reset()
    now = datetime.fromisoformat(TICK)
    return [{"Records": [shard_record(Shard(now, tuple(MONITORS[2 * n : 2 * n + 2]), ()), n)]} for n in range(SHARDS)]


def test_thirty_two_concurrent_shards_start_exactly_the_budget(world: World, fleet: list[dict[str, Any]]) -> None:
    results = invoke_at_once(world, fleet)

    assert all(r.get("batchItemFailures") == [] for r in results)
    requests = [json.loads(m["Body"])["monitor_id"] for m in drain(aws_client("sqs"), world.queue)]
    assert len(requests) == LIMIT == len(set(requests))
    assert len(budget_item(world, "hour#2024-08-09T00")) == LIMIT
    assert budget_item(world, RUNNING_SK) == budget_item(world, "hour#2024-08-09T00")
    statuses = [world.state_item(m)["status"]["S"] for m in MONITORS]
    assert statuses.count("RETRAINING") == LIMIT
    assert statuses.count("ALARM") == len(MONITORS) - LIMIT


def test_the_same_tick_redelivered_to_32_shards_at_once_takes_nothing_twice(
    world: World, fleet: list[dict[str, Any]]
) -> None:
    invoke_at_once(world, fleet)
    taken = budget_item(world, "hour#2024-08-09T00")
    first = [json.loads(m["Body"])["monitor_id"] for m in drain(aws_client("sqs"), world.queue)]

    invoke_at_once(world, fleet)

    assert budget_item(world, "hour#2024-08-09T00") == taken
    assert list(drain(aws_client("sqs"), world.queue)) == []
    assert len(first) == LIMIT
