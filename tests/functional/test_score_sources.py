"""Score sources on moto: the newest datapoints oldest first, guards joined, and one error per bad monitor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.stub import Stubber

from retrain_trigger.adapters.scores import MAX_REFUSED, CloudWatchScoreSource, DynamoDBScoreSource, ScoreSources
from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import BadInput, DependencyError, RetrainTriggerError, RetryableError
from retrain_trigger.model import Datapoints, Observation
from tests.support.resources import REGION

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.functional.conftest import RecordCalls

NOW = datetime(2024, 8, 9, 12, 30, tzinfo=UTC)
NAMESPACE = "MLOps/ModelMonitoring"


def day(n: int, hour: int = 0) -> datetime:
    return datetime(2024, 8, n, hour, tzinfo=UTC)


def dynamodb_monitor(monitor_id: str = "churn", **overrides: Any) -> MonitorConfig:
    return MonitorConfig.model_validate({"id": monitor_id, "critical": 0.2, "evaluation_periods": 3, **overrides})


def cloudwatch_monitor(monitor_id: str = "churn", period: str = "1d", **overrides: Any) -> MonitorConfig:
    source = {"type": "cloudwatch", "namespace": NAMESPACE, "dimensions": {"MonitorId": monitor_id}, "period": period}
    return dynamodb_monitor(monitor_id, source=source, **overrides)


def accuracy_guard() -> list[dict[str, Any]]:
    return [{"metric": "accuracy", "below": 0.85}]


def put_scores(ddb: DynamoDBClient, table: str, monitor_id: str, *items: Mapping[str, Any]) -> None:
    serializer = TypeSerializer()
    for item in items:
        record = {"monitor_id": monitor_id, **item}
        ddb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in record.items()})


def observations(result: Sequence[Observation] | RetrainTriggerError) -> list[tuple[datetime, float, dict[str, float]]]:
    """(time, score, metrics) per datapoint, rounded to 9 places: CloudWatch averages in floating point."""
    assert not isinstance(result, RetrainTriggerError), result
    return [(o.at, round(o.score, 9), {k: round(v, 9) for k, v in o.metrics.items()}) for o in result]


def bad_input(result: Sequence[Observation] | RetrainTriggerError) -> BadInput:
    assert isinstance(result, BadInput), result
    return result


def refused_item(result: Sequence[Observation] | RetrainTriggerError) -> BadInput:
    """The BadInput of the one score item the read refused: skipped and named, never a datapoint, and never an error
    of the whole monitor (issue 13 item 12: one bad item used to block its monitor)."""
    assert isinstance(result, Datapoints), result
    (refused,) = result.refused
    return refused.error


# -- DynamoDB ----------------------------------------------------------------------------------------------------


@pytest.fixture
def dynamodb_source(ddb: DynamoDBClient, score_table: str) -> DynamoDBScoreSource:
    return DynamoDBScoreSource(score_table, client=ddb, clock=lambda: NOW)


def test_returns_the_newest_evaluation_periods_oldest_first(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(
        ddb,
        score_table,
        "churn",
        *({"timestamp": f"2024-08-0{d}T00:00:00Z", "drift_score": Decimal(f"0.{d}")} for d in range(1, 6)),
    )

    result = dynamodb_source.latest([dynamodb_monitor()], NOW)

    assert observations(result["churn"]) == [(day(3), 0.3, {}), (day(4), 0.4, {}), (day(5), 0.5, {})]


def test_a_datapoint_ahead_of_the_wall_clock_is_bad_input_naming_the_timestamp(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.1")})
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-10T00:00:00Z", "drift_score": Decimal("0.3")})

    result = dynamodb_source.latest([dynamodb_monitor()], NOW)["churn"]

    error = refused_item(result)
    assert (error.monitor_id, error.field) == ("churn", "timestamp")
    assert "ahead of the clock" in error.problem
    assert observations(result) == [(day(9), 0.1, {})]  # decided on the valid datapoint below it


def test_a_datapoint_a_little_ahead_of_the_wall_clock_is_tolerated_and_not_read_before_its_time(
    ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T12:00:00Z", "drift_score": Decimal("0.1")})
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T12:34:00Z", "drift_score": Decimal("0.3")})
    source = DynamoDBScoreSource(score_table, client=ddb, clock=lambda: NOW)  # 12:30, the producer 4 min ahead

    assert observations(source.latest([dynamodb_monitor()], NOW)["churn"]) == [(day(9, 12), 0.1, {})]


def late_tick_items(ddb: DynamoDBClient, score_table: str) -> None:
    """Four days of scores up to NOW's day, then two written after it: what a tick retried a day late finds."""
    days = [(d, Decimal(f"0.{d}")) for d in range(6, 10)] + [(10, Decimal("0.9")), (11, Decimal("0.8"))]
    for d, score in days:
        put_scores(ddb, score_table, "churn", {"timestamp": f"2024-08-{d:02d}T00:00:00Z", "drift_score": score})


def test_a_late_tick_reads_as_of_its_own_time_and_decides_as_an_on_time_one(
    ddb: DynamoDBClient, score_table: str, record_calls: RecordCalls
) -> None:
    on_time = DynamoDBScoreSource(score_table, client=ddb, clock=lambda: NOW)
    late = DynamoDBScoreSource(score_table, client=ddb, clock=lambda: day(11, 6))
    put_scores(ddb, score_table, "churn", *({"timestamp": f"2024-08-0{d}T00:00:00Z", "drift_score": d} for d in (6, 7)))
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-08T00:00:00Z", "drift_score": Decimal("0.8")})
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.9")})
    seen_on_time = observations(on_time.latest([dynamodb_monitor()], NOW)["churn"])
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-10T00:00:00Z", "drift_score": Decimal("0.1")})
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-11T00:00:00Z", "drift_score": Decimal("0.1")})
    calls = record_calls(ddb, "Query")

    seen_late = observations(late.latest([dynamodb_monitor()], NOW)["churn"])

    assert seen_late == seen_on_time == [(day(7), 7.0, {}), (day(8), 0.8, {}), (day(9), 0.9, {})]
    assert len(calls) == 2  # the newest items showed it was late; the second read is bounded by its time
    assert calls[1]["ExpressionAttributeValues"][":before"] == {"S": "2024-08-09T12:30:01"}


def test_an_on_time_tick_is_one_query_per_monitor(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str, record_calls: RecordCalls
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.3")})
    calls = record_calls(ddb, "Query")

    dynamodb_source.latest([dynamodb_monitor(), dynamodb_monitor("fraud")], NOW)

    assert len(calls) == 2
    assert all(":before" not in call["ExpressionAttributeValues"] for call in calls)


def test_a_datapoint_stamped_exactly_at_the_tick_is_read_and_one_a_moment_later_is_not(
    ddb: DynamoDBClient, score_table: str
) -> None:
    source = DynamoDBScoreSource(score_table, client=ddb, clock=lambda: day(9, 1))
    tick = day(9)
    put_scores(
        ddb,
        score_table,
        "churn",
        {"timestamp": "2024-08-08T00:00:00Z", "drift_score": Decimal("0.1")},
        {"timestamp": "2024-08-08T12:00:00.250Z", "drift_score": Decimal("0.2")},
        {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.3")},
        # Later in the tick's own second: it sorts below the tick's text ('.' < 'Z') yet is after the tick.
        {"timestamp": "2024-08-09T00:00:00.500+00:00", "drift_score": Decimal("0.9")},
        {"timestamp": "2024-08-09T00:00:00.750Z", "drift_score": Decimal("0.9")},
    )

    result = source.latest([dynamodb_monitor()], tick)

    assert observations(result["churn"]) == [
        (day(8), 0.1, {}),
        (datetime(2024, 8, 8, 12, 0, 0, 250_000, tzinfo=UTC), 0.2, {}),
        (day(9), 0.3, {}),
    ]


def test_guard_metrics_come_from_the_same_item_and_may_be_absent(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(
        ddb,
        score_table,
        "churn",
        {"timestamp": "2024-08-08T00:00:00Z", "drift_score": Decimal("0.3"), "accuracy": Decimal("0.8")},
        {"timestamp": "2024-08-09T00:00:00+00:00", "drift_score": 1, "latency": Decimal("12")},
    )

    result = dynamodb_source.latest([dynamodb_monitor(guards=accuracy_guard())], NOW)

    assert observations(result["churn"]) == [(day(8), 0.3, {"accuracy": 0.8}), (day(9), 1.0, {})]


def test_a_string_score_is_bad_input_naming_the_field(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": "0.3"})

    error = refused_item(dynamodb_source.latest([dynamodb_monitor()], NOW)["churn"])

    assert (error.monitor_id, error.field) == ("churn", "drift_score")


def test_a_custom_score_attribute_is_read_and_named_when_missing(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-08T00:00:00Z", "psi": Decimal("0.25")})
    put_scores(ddb, score_table, "fraud", {"timestamp": "2024-08-08T00:00:00Z", "drift_score": Decimal("0.25")})
    source = {"type": "dynamodb", "score_attribute": "psi"}

    result = dynamodb_source.latest([dynamodb_monitor(source=source), dynamodb_monitor("fraud", source=source)], NOW)

    assert observations(result["churn"]) == [(day(8), 0.25, {})]
    assert refused_item(result["fraud"]).field == "psi"


@pytest.mark.parametrize("timestamp", ["yesterday", "2024-08-09T00:00:00", "2024-13-01T00:00:00Z"])
def test_a_timestamp_that_is_not_iso_8601_with_a_timezone_is_bad_input(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str, timestamp: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": timestamp, "drift_score": Decimal("0.3")})

    error = refused_item(dynamodb_source.latest([dynamodb_monitor()], NOW)["churn"])

    assert error.field == "timestamp"


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-08-08T19:00:00-05:00",  # a local time: sorts by its text, 5 h before its real place
        "2024-08-09T02:00:00+02:00",
        "20240809T000000Z",  # basic ISO form: sorts below every extended one
        "2024-08-09 00:00:00Z",  # space instead of 'T'
        "2024-08-09T00:00Z",  # no seconds: sorts after the same minute's seconds
    ],
)
def test_a_timestamp_not_written_as_utc_in_the_sortable_form_is_bad_input_saying_producers_must_write_utc(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str, timestamp: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-08T00:00:00Z", "drift_score": Decimal("0.1")})
    put_scores(ddb, score_table, "churn", {"timestamp": timestamp, "drift_score": Decimal("0.3")})

    error = refused_item(dynamodb_source.latest([dynamodb_monitor(evaluation_periods=2)], NOW)["churn"])

    assert (error.monitor_id, error.field) == ("churn", "timestamp")
    assert "producers must write UTC" in error.problem


def test_a_local_time_that_sorts_as_newest_is_refused_rather_than_read_as_the_newest(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    # 23:00-05:00 is 04:00Z on the 9th, older than 06:00Z, yet its text sorts above: the Query calls it newest.
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T06:00:00Z", "drift_score": Decimal("0.1")})
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T23:00:00-05:00", "drift_score": Decimal("0.9")})

    error = refused_item(dynamodb_source.latest([dynamodb_monitor(evaluation_periods=1)], NOW)["churn"])

    assert error.field == "timestamp"


def test_utc_written_with_an_offset_or_a_fraction_is_read_in_utc(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(
        ddb,
        score_table,
        "churn",
        {"timestamp": "2024-08-08T00:00:00+00:00", "drift_score": Decimal("0.1")},
        {"timestamp": "2024-08-09T00:00:00.125Z", "drift_score": Decimal("0.2")},
    )

    result = dynamodb_source.latest([dynamodb_monitor(evaluation_periods=2)], NOW)

    first, second = (at for at, _score, _metrics in observations(result["churn"]))
    assert (first, second) == (day(8), datetime(2024, 8, 9, 0, 0, 0, 125_000, tzinfo=UTC))
    assert first.tzinfo is UTC and second.tzinfo is UTC


def test_a_non_numeric_guard_is_bad_input_naming_the_guard(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    item = {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.3"), "accuracy": "high"}
    put_scores(ddb, score_table, "churn", item)

    error = refused_item(dynamodb_source.latest([dynamodb_monitor(guards=accuracy_guard())], NOW)["churn"])

    assert error.field == "accuracy"


def test_one_bad_monitor_does_not_hide_the_others(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    for n in range(12):
        put_scores(ddb, score_table, f"m{n}", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal(n)})
    put_scores(ddb, score_table, "m5", {"timestamp": "2024-08-09T06:00:00Z", "drift_score": True})
    monitors = [dynamodb_monitor(f"m{n}") for n in range(12)]
    monitors.append(dynamodb_monitor("elsewhere", source={"type": "dynamodb", "table": "no-such-table"}))

    result = dynamodb_source.latest(monitors, NOW)

    assert refused_item(result["m5"]).field == "drift_score"
    assert isinstance(result["elsewhere"], DependencyError)
    assert {m: observations(result[m])[-1][1] for m in result if m not in ("m5", "elsewhere")} == {
        f"m{n}": float(n) for n in range(12) if n != 5
    }


def test_a_monitor_without_scores_gets_no_datapoints(dynamodb_source: DynamoDBScoreSource) -> None:
    assert observations(dynamodb_source.latest([dynamodb_monitor()], NOW)["churn"]) == []


def test_a_throttled_query_is_retryable_for_that_monitor(score_table: str) -> None:
    client = boto3.client("dynamodb", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    with Stubber(client) as stub:
        stub.add_client_error("query", "ThrottlingException", http_status_code=400)

        result = DynamoDBScoreSource(score_table, client=client).latest([dynamodb_monitor()], NOW)

    assert isinstance(result["churn"], RetryableError)


# -- CloudWatch --------------------------------------------------------------------------------------------------


@pytest.fixture
def cloudwatch_source(cloudwatch: CloudWatchClient) -> CloudWatchScoreSource:
    return CloudWatchScoreSource(client=cloudwatch)


def put_metric(cloudwatch: CloudWatchClient, monitor_id: str, name: str, at: datetime, value: float) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "MonitorId", "Value": monitor_id}],
                "Timestamp": at,
                "Value": value,
            }
        ],
    )


def test_cloudwatch_returns_the_newest_periods_with_guards_joined_by_timestamp(
    cloudwatch_source: CloudWatchScoreSource, cloudwatch: CloudWatchClient
) -> None:
    for n in range(2, 9):
        put_metric(cloudwatch, "churn", "drift_score", day(n, hour=6), n / 10)
    put_metric(cloudwatch, "churn", "accuracy", day(7, hour=7), 0.8)
    put_metric(cloudwatch, "churn", "accuracy", day(7, hour=9), 0.9)
    put_metric(cloudwatch, "other", "drift_score", day(8, hour=6), 9.0)

    result = cloudwatch_source.latest([cloudwatch_monitor(guards=accuracy_guard())], NOW)

    # Daily buckets start at midnight UTC whatever the time of the tick, so a datapoint keeps its timestamp.
    assert observations(result["churn"]) == [
        (day(6), 0.6, {}),
        (day(7), 0.7, {"accuracy": 0.85}),
        (day(8), 0.8, {}),
    ]


def test_cloudwatch_reads_as_of_the_tick_so_a_late_tick_decides_as_an_on_time_one(
    cloudwatch_source: CloudWatchScoreSource, cloudwatch: CloudWatchClient
) -> None:
    tick = day(9, 12)
    put_metric(cloudwatch, "churn", "drift_score", day(9, 10), 0.1)
    put_metric(cloudwatch, "churn", "drift_score", day(9, 11), 0.2)
    put_metric(cloudwatch, "churn", "drift_score", tick, 0.3)  # stamped exactly at the tick: counts
    on_time = observations(cloudwatch_source.latest([cloudwatch_monitor(period="1h")], tick)["churn"])
    put_metric(cloudwatch, "churn", "drift_score", tick + timedelta(minutes=30), 0.9)  # in the tick's hour, later
    put_metric(cloudwatch, "churn", "drift_score", day(9, 13), 0.9)
    put_metric(cloudwatch, "churn", "drift_score", day(10), 0.9)

    late = observations(cloudwatch_source.latest([cloudwatch_monitor(period="1h")], tick)["churn"])

    assert late == on_time == [(day(9, 10), 0.1, {}), (day(9, 11), 0.2, {}), (tick, 0.3, {})]


def test_cloudwatch_batches_501_queries_into_two_calls(
    cloudwatch_source: CloudWatchScoreSource, cloudwatch: CloudWatchClient, record_calls: RecordCalls
) -> None:
    # 251 monitors with one guard each: 502 queries, and a monitor's two queries never straddle two calls.
    monitors = [cloudwatch_monitor(f"m{n:03d}", guards=accuracy_guard(), evaluation_periods=1) for n in range(251)]
    put_metric(cloudwatch, "m000", "drift_score", day(8), 0.1)
    put_metric(cloudwatch, "m250", "drift_score", day(8), 0.3)
    put_metric(cloudwatch, "m250", "accuracy", day(8), 0.7)
    calls = record_calls(cloudwatch, "GetMetricData")

    result = cloudwatch_source.latest(monitors, NOW)

    assert [len(call["MetricDataQueries"]) for call in calls] == [500, 2]
    assert {call["ScanBy"] for call in calls} == {"TimestampDescending"}
    assert len(result) == 251
    assert observations(result["m000"]) == [(day(8), 0.1, {})]
    assert observations(result["m250"]) == [(day(8), 0.3, {"accuracy": 0.7})]
    assert observations(result["m123"]) == []


def test_cloudwatch_window_covers_staleness_and_the_evaluation_periods_up_to_the_tick(
    cloudwatch_source: CloudWatchScoreSource, cloudwatch: CloudWatchClient, record_calls: RecordCalls
) -> None:
    calls = record_calls(cloudwatch, "GetMetricData")

    cloudwatch_source.latest([cloudwatch_monitor(max_age="2d")], NOW)

    ((query,), start, end) = (calls[0]["MetricDataQueries"], calls[0]["StartTime"], calls[0]["EndTime"])
    assert query["MetricStat"]["Period"] == 86400
    assert query["MetricStat"]["Stat"] == "Average"
    assert query["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "MonitorId", "Value": "churn"}]
    assert start == day(4)  # NOW - (2 days + 3 periods), floored to a whole day
    assert end == NOW + timedelta(seconds=1)  # EndTime is exclusive: a datapoint stamped at NOW is read


def test_cloudwatch_follows_next_token_across_pages() -> None:
    client = boto3.client("cloudwatch", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    first = {"Id": "m0_0", "Timestamps": [day(8)], "Values": [0.4], "StatusCode": "PartialData"}
    second = {"Id": "m0_0", "Timestamps": [day(7)], "Values": [0.3], "StatusCode": "Complete"}
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [first], "NextToken": "page-2"})
        stub.add_response("get_metric_data", {"MetricDataResults": [second]})

        result = CloudWatchScoreSource(client=client).latest([cloudwatch_monitor()], NOW)

    assert observations(result["churn"]) == [(day(7), 0.3, {}), (day(8), 0.4, {})]


def test_cloudwatch_a_throttled_call_is_retryable_for_every_monitor_in_it() -> None:
    client = boto3.client("cloudwatch", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    with Stubber(client) as stub:
        stub.add_client_error("get_metric_data", "Throttling", http_status_code=400)

        result = CloudWatchScoreSource(client=client).latest([cloudwatch_monitor("a"), cloudwatch_monitor("b")], NOW)

    assert isinstance(result["a"], RetryableError)
    assert isinstance(result["b"], RetryableError)


# -- routing -----------------------------------------------------------------------------------------------------


class FailingSource:
    """A score source whose backend is down: not boto3, so a plain fake is fair."""

    def latest(
        self, monitors: Sequence[MonitorConfig], now: datetime
    ) -> Mapping[str, Sequence[Observation] | RetrainTriggerError]:
        raise RetryableError("backend unavailable")


def test_score_sources_route_each_monitor_by_source_type(
    dynamodb_source: DynamoDBScoreSource,
    cloudwatch_source: CloudWatchScoreSource,
    ddb: DynamoDBClient,
    score_table: str,
    cloudwatch: CloudWatchClient,
) -> None:
    put_scores(ddb, score_table, "table-fed", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.1")})
    put_metric(cloudwatch, "metric-fed", "drift_score", day(9), 0.2)
    sources = ScoreSources({"dynamodb": dynamodb_source, "cloudwatch": cloudwatch_source})

    result = sources.latest([dynamodb_monitor("table-fed"), cloudwatch_monitor("metric-fed")], NOW)

    assert observations(result["table-fed"]) == [(day(9), 0.1, {})]
    assert observations(result["metric-fed"]) == [(day(9), 0.2, {})]


def test_a_monitor_whose_source_type_has_no_reader_is_bad_input(dynamodb_source: DynamoDBScoreSource) -> None:
    result = ScoreSources({"dynamodb": dynamodb_source}).latest([cloudwatch_monitor()], NOW)

    assert bad_input(result["churn"]).field == "source.type"


def test_a_source_that_fails_fails_only_its_own_monitors(dynamodb_source: DynamoDBScoreSource) -> None:
    sources = ScoreSources({"dynamodb": dynamodb_source, "cloudwatch": FailingSource()})

    result = sources.latest([dynamodb_monitor("table-fed"), cloudwatch_monitor("metric-fed")], NOW)

    assert observations(result["table-fed"]) == []
    assert isinstance(result["metric-fed"], RetryableError)


def test_an_unreadable_item_above_the_valid_ones_is_refused_and_the_read_goes_on_past_it(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    put_scores(ddb, score_table, "churn", {"timestamp": "yesterday", "drift_score": Decimal("0.9")})  # sorts on top
    for n in (7, 8, 9):
        put_scores(ddb, score_table, "churn", {"timestamp": f"2024-08-0{n}T00:00:00Z", "drift_score": Decimal(n)})

    result = dynamodb_source.latest([dynamodb_monitor(evaluation_periods=3)], NOW)["churn"]

    assert observations(result) == [(day(7), 7.0, {}), (day(8), 8.0, {}), (day(9), 9.0, {})]
    assert isinstance(result, Datapoints)
    assert [(r.key, r.error.field) for r in result.refused] == [("yesterday", "timestamp")]


def test_more_unreadable_items_than_a_read_skips_make_the_monitor_bad_input(
    dynamodb_source: DynamoDBScoreSource, ddb: DynamoDBClient, score_table: str
) -> None:
    for n in range(MAX_REFUSED + 1):
        put_scores(ddb, score_table, "churn", {"timestamp": f"zz{n:02d}", "drift_score": Decimal("0.9")})
    put_scores(ddb, score_table, "churn", {"timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.1")})

    error = dynamodb_source.latest([dynamodb_monitor()], NOW)["churn"]

    assert isinstance(error, BadInput)
    assert (error.monitor_id, error.field) == ("churn", "timestamp")
    assert f"more than {MAX_REFUSED} unreadable score items" in error.problem
