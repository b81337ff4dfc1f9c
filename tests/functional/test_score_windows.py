"""Score windows on moto: the score table's real stream (read with dynamodbstreams), merged by the consumer into one
item per monitor, and read by the evaluator with one BatchGetItem per 100 monitors, exactly as the Query path reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.stub import Stubber

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.adapters.score_windows import WINDOW_CAPACITY, ScoreWindowWriter, Window, WindowedScoreSource
from retrain_trigger.adapters.scores import DynamoDBScoreSource
from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import RetrainTriggerError
from retrain_trigger.model import Datapoints, Observation
from retrain_trigger_local.runtime import load_handler
from tests.support import resources
from tests.support.scale import (
    WINDOW_TABLE,
    ScoreStream,
    create_window_table,
    enable_score_stream,
    use_score_windows,
)
from tests.support.world import TICK, World, context

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.functional.conftest import RecordCalls

NOW = datetime(2024, 8, 9, 12, 30, tzinfo=UTC)
START = datetime(2024, 6, 1, tzinfo=UTC)


def monitor(monitor_id: str = "churn", **overrides: Any) -> MonitorConfig:
    return MonitorConfig.model_validate({"id": monitor_id, "critical": 0.2, "evaluation_periods": 3, **overrides})


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def put_score(ddb: DynamoDBClient, table: str, monitor_id: str, at: datetime | str, score: Any, **metrics: Any) -> None:
    serializer = TypeSerializer()
    item = {"monitor_id": monitor_id, "timestamp": at if isinstance(at, str) else stamp(at), "drift_score": score}
    ddb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in {**item, **metrics}.items()})


def points(result: Sequence[Observation] | RetrainTriggerError) -> list[tuple[datetime, float, dict[str, float]]]:
    assert not isinstance(result, RetrainTriggerError), result
    return [(o.at, o.score, dict(o.metrics)) for o in result]


class Fleet:
    """A score table with its stream, the window table, the consumer and both readers, on one moto client."""

    def __init__(self, ddb: DynamoDBClient) -> None:
        self.ddb = ddb
        self.scores = resources.create_score_table(ddb)
        self.stream = ScoreStream(enable_score_stream(ddb, self.scores))
        self.windows = create_window_table(ddb)
        self.writer = ScoreWindowWriter(self.windows, self.scores, client=ddb, sleep=lambda _: None)
        self.queries = DynamoDBScoreSource(self.scores, client=ddb, clock=lambda: NOW)
        self.reader = WindowedScoreSource(
            self.windows, self.queries, client=ddb, clock=lambda: NOW, sleep=lambda _: None
        )

    def score(self, monitor_id: str, at: datetime | str, score: Any, **metrics: Any) -> None:
        put_score(self.ddb, self.scores, monitor_id, at, score, **metrics)

    def pump(self) -> list[dict[str, Any]]:
        """Deliver every new stream record to the consumer, as one batch; returns the records."""
        records = self.stream.new_records()
        assert self.writer.apply(records) == []
        return records

    def window(self, monitor_id: str) -> Window:
        item = self.ddb.get_item(TableName=self.windows, Key={"monitor_id": {"S": monitor_id}})["Item"]
        return Window.from_item(item)


@pytest.fixture
def fleet(ddb: DynamoDBClient) -> Iterator[Fleet]:
    yield Fleet(ddb)


# -- the consumer ------------------------------------------------------------------------------------------------


def test_the_window_keeps_the_newest_datapoints_by_instant_and_stays_bounded(fleet: Fleet) -> None:
    hours = list(range(WINDOW_CAPACITY + 20))
    random.Random(7).shuffle(hours)  # written out of time order
    for hour in hours:
        fleet.score("churn", START + timedelta(hours=hour), Decimal(hour) / 1000)

    fleet.pump()

    window = fleet.window("churn")
    newest = [stamp(START + timedelta(hours=h)) for h in range(20, WINDOW_CAPACITY + 20)]
    assert sorted(window.points) == newest
    assert window.complete is False  # it dropped the oldest 20: only the table still has them


def test_a_retried_batch_changes_nothing(fleet: Fleet, record_calls: RecordCalls) -> None:
    fleet.score("churn", START, Decimal("0.1"))
    records = fleet.pump()
    before = fleet.ddb.get_item(TableName=fleet.windows, Key={"monitor_id": {"S": "churn"}})["Item"]
    puts = record_calls(fleet.ddb, "PutItem")

    assert fleet.writer.apply(records) == []

    assert fleet.ddb.get_item(TableName=fleet.windows, Key={"monitor_id": {"S": "churn"}})["Item"] == before
    assert puts == []


def test_an_older_record_arriving_after_a_newer_one_does_not_overwrite_it(fleet: Fleet) -> None:
    fleet.score("churn", START, Decimal("0.1"))
    fleet.score("churn", START, Decimal("0.7"))  # the producer corrected the same datapoint
    first, second = fleet.stream.new_records()

    assert fleet.writer.apply([second]) == []
    assert fleet.writer.apply([first]) == []  # out of order, e.g. redelivered after a retry

    assert fleet.window("churn").points[stamp(START)]["drift_score"] == {"N": "0.7"}


def test_a_deleted_score_leaves_the_window(fleet: Fleet) -> None:
    fleet.score("churn", START, Decimal("0.1"))
    fleet.score("churn", START + timedelta(hours=1), Decimal("0.2"))
    fleet.pump()

    fleet.ddb.delete_item(TableName=fleet.scores, Key={"monitor_id": {"S": "churn"}, "timestamp": {"S": stamp(START)}})
    fleet.pump()

    assert list(fleet.window("churn").points) == [stamp(START + timedelta(hours=1))]


def test_a_monitors_first_window_is_seeded_with_the_scores_written_before_the_stream(ddb: DynamoDBClient) -> None:
    scores = resources.create_score_table(ddb)
    for day in range(1, 4):
        put_score(ddb, scores, "churn", datetime(2024, 8, day, tzinfo=UTC), Decimal(day) / 10)
    fleet_stream = ScoreStream(enable_score_stream(ddb, scores))  # deployed after three days of scores
    windows = create_window_table(ddb)
    put_score(ddb, scores, "churn", datetime(2024, 8, 4, tzinfo=UTC), Decimal("0.4"))

    assert ScoreWindowWriter(windows, scores, client=ddb).apply(fleet_stream.new_records()) == []

    item = ddb.get_item(TableName=windows, Key={"monitor_id": {"S": "churn"}})["Item"]
    window = Window.from_item(item)
    assert sorted(window.points) == [f"2024-08-0{d}T00:00:00Z" for d in range(1, 5)]
    assert window.complete is True


def test_a_monitor_whose_window_write_fails_is_reported_for_retry_and_the_others_are_written(fleet: Fleet) -> None:
    fleet.score("churn", START, Decimal("0.1"))
    fleet.score("fraud", START, Decimal("0.2"))
    records = fleet.stream.new_records()
    client = boto3.client("dynamodb", region_name=resources.REGION, config=Config(retries={"max_attempts": 1}))
    writer = ScoreWindowWriter(fleet.windows, fleet.scores, client=client)
    real = fleet.ddb
    with Stubber(client) as stub:
        stub.add_response("batch_get_item", {"Responses": {fleet.windows: []}})
        stub.add_response(
            "query",
            real.query(
                TableName=fleet.scores,
                KeyConditionExpression="monitor_id = :m",
                ExpressionAttributeValues={":m": {"S": "churn"}},
                ScanIndexForward=False,
            ),
        )
        stub.add_client_error("put_item", "ProvisionedThroughputExceededException", http_status_code=400)
        stub.add_response(
            "query",
            real.query(
                TableName=fleet.scores,
                KeyConditionExpression="monitor_id = :m",
                ExpressionAttributeValues={":m": {"S": "fraud"}},
                ScanIndexForward=False,
            ),
        )
        stub.add_response("put_item", {})

        failed = writer.apply(records)

    assert failed == [
        r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["monitor_id"]["S"] == "churn"
    ]


# -- the reader --------------------------------------------------------------------------------------------------


def daily(fleet: Fleet, monitor_id: str, days: range, **metrics: Any) -> None:
    for day in days:
        fleet.score(monitor_id, datetime(2024, 8, day, tzinfo=UTC), Decimal(day) / 100, **metrics)


def test_250_monitors_are_read_with_3_batch_gets_and_no_query_as_the_query_path_reads_them(
    fleet: Fleet, record_calls: RecordCalls
) -> None:
    monitors = [monitor(f"m{i:03d}", guards=[{"metric": "accuracy", "below": 0.8}]) for i in range(250)]
    for m in monitors:
        daily(fleet, m.id, range(5, 10), accuracy=Decimal("0.9"))
    fleet.pump()
    batch_gets, queries = record_calls(fleet.ddb, "BatchGetItem"), record_calls(fleet.ddb, "Query")

    windowed = fleet.reader.latest(monitors, NOW)

    assert [len(call["RequestItems"][fleet.windows]["Keys"]) for call in batch_gets] == [100, 100, 50]
    assert queries == []
    assert {i: points(r) for i, r in windowed.items()} == {
        i: points(r) for i, r in fleet.queries.latest(monitors, NOW).items()
    }
    assert points(windowed["m000"])[-1] == (datetime(2024, 8, 9, tzinfo=UTC), 0.09, {"accuracy": 0.9})


def test_a_late_tick_reads_its_window_as_of_its_own_time(fleet: Fleet) -> None:
    daily(fleet, "churn", range(1, 12))  # two days written after NOW
    fleet.pump()
    two_days_on = NOW + timedelta(days=2)  # the wall clock when the tick of NOW finally runs
    reader = WindowedScoreSource(fleet.windows, fleet.queries, client=fleet.ddb, clock=lambda: two_days_on)

    result = reader.latest([monitor()], NOW)["churn"]

    assert [o.at.day for o in points_of(result)] == [7, 8, 9]


def points_of(result: Sequence[Observation] | RetrainTriggerError) -> Sequence[Observation]:
    assert not isinstance(result, RetrainTriggerError), result
    return result


def test_a_datapoint_far_ahead_of_the_wall_clock_is_bad_input_naming_the_monitor_and_timestamp(fleet: Fleet) -> None:
    daily(fleet, "churn", range(5, 10))
    fleet.score("churn", NOW + timedelta(hours=3), Decimal("0.5"))  # a producer's clock three hours fast
    fleet.pump()

    result = fleet.reader.latest([monitor()], NOW)["churn"]

    assert isinstance(result, Datapoints)
    (refused,) = result.refused  # reported by the evaluator, never an error of the whole monitor
    assert (refused.key, refused.error.monitor_id, refused.error.field) == (
        stamp(NOW + timedelta(hours=3)),
        "churn",
        "timestamp",
    )
    assert "ahead of the clock" in refused.error.problem
    assert [o.at.day for o in points_of(result)] == [7, 8, 9]


@pytest.mark.parametrize("text", ["2024-08-09T00:00:00", "2024-08-09T02:00:00+02:00", "yesterday"])
def test_a_timestamp_not_written_as_utc_is_refused_as_it_enters_and_never_read(fleet: Fleet, text: str) -> None:
    daily(fleet, "churn", range(5, 9))
    fleet.score("churn", text, Decimal("0.5"))

    fleet.pump()

    (refused,) = fleet.writer.refused
    assert (refused.key, refused.error.monitor_id, refused.error.field) == (text, "churn", "timestamp")
    assert text not in fleet.window("churn").points
    result = fleet.reader.latest([monitor()], NOW)["churn"]
    assert [o.at.day for o in points_of(result)] == [6, 7, 8]  # decided on the valid datapoints


def test_a_monitor_without_a_window_is_read_by_one_query_and_only_it(fleet: Fleet, record_calls: RecordCalls) -> None:
    daily(fleet, "churn", range(5, 10))
    fleet.pump()
    daily(fleet, "fresh", range(5, 10))  # its records not consumed yet: no window
    queries = record_calls(fleet.ddb, "Query")

    result = fleet.reader.latest([monitor(), monitor("fresh")], NOW)

    assert [call["ExpressionAttributeValues"][":id"]["S"] for call in queries] == ["fresh"]
    assert [o.at.day for o in points_of(result["fresh"])] == [7, 8, 9]
    assert [o.at.day for o in points_of(result["churn"])] == [7, 8, 9]


def test_a_window_that_dropped_what_a_very_late_tick_needs_sends_that_monitor_to_the_query_path(
    fleet: Fleet, record_calls: RecordCalls
) -> None:
    for hour in range(WINDOW_CAPACITY + 10):
        fleet.score("churn", START + timedelta(hours=hour), Decimal("0.1"))
    fleet.pump()
    late = START + timedelta(hours=5, minutes=30)  # only hours 0..5 are at or before it: the window kept 10 onwards
    queries = record_calls(fleet.ddb, "Query")

    result = fleet.reader.latest([monitor()], late)

    assert len(queries) >= 1
    assert [o.at for o in points_of(result["churn"])] == [START + timedelta(hours=h) for h in (3, 4, 5)]


def test_unprocessed_keys_are_asked_again_until_every_window_is_read(fleet: Fleet) -> None:
    daily(fleet, "churn", range(5, 10))
    daily(fleet, "fraud", range(5, 10))
    fleet.pump()
    items = {
        m: fleet.ddb.get_item(TableName=fleet.windows, Key={"monitor_id": {"S": m}})["Item"] for m in ("churn", "fraud")
    }
    client = boto3.client("dynamodb", region_name=resources.REGION)
    naps: list[float] = []
    reader = WindowedScoreSource(fleet.windows, fleet.queries, client=client, clock=lambda: NOW, sleep=naps.append)
    with Stubber(client) as stub:
        unprocessed = {fleet.windows: {"Keys": [{"monitor_id": {"S": "fraud"}}], "ConsistentRead": True}}
        stub.add_response(
            "batch_get_item", {"Responses": {fleet.windows: [items["churn"]]}, "UnprocessedKeys": unprocessed}
        )
        stub.add_response("batch_get_item", {"Responses": {fleet.windows: [items["fraud"]]}})

        result = reader.latest([monitor(), monitor("fraud")], NOW)

    assert [o.at.day for o in points_of(result["fraud"])] == [7, 8, 9]
    assert len(naps) == 1


# -- the real handlers -------------------------------------------------------------------------------------------


def test_the_consumer_handler_and_the_evaluator_decide_from_windows_without_a_score_query(
    world: World, monkeypatch: pytest.MonkeyPatch, record_calls: RecordCalls
) -> None:
    stream = use_score_windows(world, monkeypatch)
    world.score("churn-model", TICK, 0.2186)
    consumer = load_handler("score_windows")
    response = consumer.lambda_handler({"Records": stream.new_records()}, context())
    assert response == {"batchItemFailures": []}
    queries = record_calls(aws_client("dynamodb"), "Query")

    report = world.tick()

    assert report["monitors"][0]["state_after"] == "RETRAINING"
    assert [call for call in queries if call["TableName"] == world.score_table] == []
    assert len(world.executions()) == 1


def test_an_older_insert_seen_after_its_remove_does_not_bring_the_deleted_datapoint_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = use_score_windows(world, monkeypatch)
    world.score("churn-model", "2024-08-08T23:00:00Z", 0.05)
    world.score("churn-model", TICK, 0.9)  # a wrong score, deleted by its producer
    aws_client("dynamodb").delete_item(
        TableName=world.score_table, Key={"monitor_id": {"S": "churn-model"}, "timestamp": {"S": TICK}}
    )
    older, insert, remove = stream.new_records()
    assert [r["eventName"] for r in (insert, remove)] == ["INSERT", "REMOVE"]
    consumer = load_handler("score_windows")

    # The REMOVE's batch went through; the INSERT's batch is retried after it (a partial failure, a bisected batch).
    assert consumer.lambda_handler({"Records": [older, remove]}, context()) == {"batchItemFailures": []}
    assert consumer.lambda_handler({"Records": [insert]}, context()) == {"batchItemFailures": []}

    item = aws_client("dynamodb").get_item(TableName=WINDOW_TABLE, Key={"monitor_id": {"S": "churn-model"}})["Item"]
    assert list(Window.from_item(item).points) == ["2024-08-08T23:00:00Z"]
    report = world.tick()
    assert (report["monitors"][0]["state_after"], report["monitors"][0]["score"]) == ("OK", 0.05)
    assert world.executions() == []


def test_tombstones_are_bounded_like_the_window(fleet: Fleet) -> None:
    hours = range(WINDOW_CAPACITY + 40)
    for hour in hours:
        fleet.score("churn", START + timedelta(hours=hour), Decimal("0.1"))
    for hour in hours:
        fleet.ddb.delete_item(
            TableName=fleet.scores,
            Key={"monitor_id": {"S": "churn"}, "timestamp": {"S": stamp(START + timedelta(hours=hour))}},
        )

    fleet.pump()

    window = fleet.window("churn")
    assert window.points == {}
    assert sorted(window.removed) == [stamp(START + timedelta(hours=h)) for h in range(40, WINDOW_CAPACITY + 40)]


def test_a_score_item_not_written_in_utc_is_refused_as_it_enters_with_one_error_alert_naming_it(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stream = use_score_windows(world, monkeypatch)
    world.score("churn-model", TICK, 0.05)
    local = "2024-08-08T23:30:00-05:00"  # 04:30 UTC, the newest datapoint, yet its text sorts below TICK's
    world.score("churn-model", local, 0.9)
    records = stream.new_records()
    consumer = load_handler("score_windows")

    assert consumer.lambda_handler({"Records": records}, context()) == {"batchItemFailures": []}

    (alert,) = [a for a in map(json.loads, (m["Message"] for m in world.alerts())) if a["event"] == "bad_score_item"]
    assert (alert["monitor_id"], alert["item_key"], alert["field"], alert["severity"]) == (
        "churn-model",
        local,
        "timestamp",
        "error",
    )
    assert "producers must write UTC" in alert["problem"]
    assert alert["idempotency_key"] == f"churn-model:bad_score_item:{local}"
    (logged,) = [r for r in caplog.records if r.getMessage() == "score item refused"]
    assert (logged.levelname, logged.monitor_id, logged.item_key, logged.field) == (
        "ERROR",
        "churn-model",
        local,
        "timestamp",
    )
    item = aws_client("dynamodb").get_item(TableName=WINDOW_TABLE, Key={"monitor_id": {"S": "churn-model"}})["Item"]
    assert list(Window.from_item(item).points) == [TICK]

    # The same records again (a retried batch) and the item rewritten: it was reported, it is not reported again.
    world.score("churn-model", local, 0.95)
    assert consumer.lambda_handler({"Records": records + stream.new_records()}, context()) == {"batchItemFailures": []}
    assert [m for m in world.alerts() if json.loads(m["Message"])["event"] == "bad_score_item"] == []
