"""Score sources: the latest datapoints of many monitors, read in batches, one error per monitor at worst.

Nothing is filtered by `now`: a datapoint from the future reaches the engine, which rejects it as bad input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from retrain_trigger.adapters.clients import aws_client, translated
from retrain_trigger.config import CloudWatchSource, DynamoDBSource, MonitorConfig
from retrain_trigger.errors import BadInput, DependencyError, RetrainTriggerError, RetryableError
from retrain_trigger.model import Observation
from retrain_trigger.ports import ScoreSource

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Result = Sequence[Observation] | RetrainTriggerError

TIMESTAMP_ATTRIBUTE = "timestamp"
MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit on MetricDataQueries

_deserializer = TypeDeserializer()


def parse_timestamp(monitor_id: str, value: object) -> datetime:
    """An ISO-8601 timestamp with a timezone ('Z' accepted); anything else is BadInput on 'timestamp'."""
    if not isinstance(value, str):
        raise BadInput(monitor_id, TIMESTAMP_ATTRIBUTE, f"expected an ISO-8601 string, got {value!r}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        at = datetime.fromisoformat(text)
    except ValueError as error:
        raise BadInput(monitor_id, TIMESTAMP_ATTRIBUTE, f"not an ISO-8601 time: {value!r}") from error
    if at.tzinfo is None:
        raise BadInput(monitor_id, TIMESTAMP_ATTRIBUTE, f"{value!r} has no timezone")
    return at


def _observation(
    monitor: MonitorConfig, score_name: str, at: datetime, score: object, metrics: Mapping[str, object]
) -> Observation:
    try:
        return Observation.checked(monitor.id, at, score, metrics)
    except BadInput as error:
        # Observation names the score "drift_score"; the user knows it by the name they configured.
        if error.field == "drift_score" and score_name != "drift_score" and "drift_score" not in metrics:
            raise BadInput(monitor.id, score_name, error.problem) from error
        raise


class DynamoDBScoreSource:
    """Scores stored as items (monitor_id, timestamp) -> score and guard metrics, one Query per monitor."""

    def __init__(self, default_table: str, client: DynamoDBClient | None = None, max_workers: int = 8) -> None:
        self.default_table = default_table
        self._client = client
        self.max_workers = max_workers

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def latest(self, monitors: Sequence[MonitorConfig], now: datetime) -> dict[str, Result]:
        """Each DynamoDB-sourced monitor's newest `evaluation_periods` items, oldest first, or its error."""
        chosen = [m for m in monitors if isinstance(m.source, DynamoDBSource)]
        if len(chosen) <= 1:
            return {m.id: self._read(m) for m in chosen}
        _ = self.client  # create the shared client once, before the threads race to
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(chosen))) as pool:
            return dict(zip((m.id for m in chosen), pool.map(self._read, chosen), strict=True))

    def _read(self, monitor: MonitorConfig) -> Result:
        try:
            return tuple(self._to_observation(monitor, item) for item in reversed(self._query(monitor)))
        except RetrainTriggerError as error:
            return error

    def _query(self, monitor: MonitorConfig) -> list[dict[str, AttributeValueTypeDef]]:
        assert isinstance(monitor.source, DynamoDBSource)
        table = monitor.source.table or self.default_table
        wanted = dict.fromkeys((TIMESTAMP_ATTRIBUTE, monitor.source.score_attribute, *monitor.guard_metrics))
        names = {f"#a{i}": name for i, name in enumerate(wanted)}
        with translated(f"Query {table} for monitor {monitor.id}"):
            response = self.client.query(
                TableName=table,
                KeyConditionExpression="monitor_id = :id",
                ExpressionAttributeValues={":id": {"S": monitor.id}},
                ProjectionExpression=", ".join(names),
                ExpressionAttributeNames=names,
                ScanIndexForward=False,
                Limit=monitor.evaluation_periods,
            )
        return response.get("Items", [])

    @staticmethod
    def _to_observation(monitor: MonitorConfig, item: Mapping[str, AttributeValueTypeDef]) -> Observation:
        assert isinstance(monitor.source, DynamoDBSource)
        values: dict[str, Any] = {name: _deserializer.deserialize(value) for name, value in item.items()}
        at = parse_timestamp(monitor.id, values.get(TIMESTAMP_ATTRIBUTE))
        score_name = monitor.source.score_attribute
        if score_name not in values:
            raise BadInput(monitor.id, score_name, f"missing from the score item at {at.isoformat()}")
        metrics = {name: values[name] for name in monitor.guard_metrics if name in values}
        return _observation(monitor, score_name, at, values[score_name], metrics)


class CloudWatchScoreSource:
    """Scores as CloudWatch metrics, read with as few GetMetricData calls as 500 queries a call allow."""

    def __init__(self, client: CloudWatchClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> CloudWatchClient:
        if self._client is None:
            self._client = aws_client("cloudwatch")
        return self._client

    def latest(self, monitors: Sequence[MonitorConfig], now: datetime) -> dict[str, Result]:
        """Each CloudWatch-sourced monitor's newest `evaluation_periods` datapoints, oldest first, or its error."""
        results: dict[str, Result] = {}
        windows: dict[tuple[datetime, datetime], list[MonitorConfig]] = defaultdict(list)
        for monitor in monitors:
            if not isinstance(monitor.source, CloudWatchSource):
                continue
            if 1 + len(monitor.guards) > MAX_QUERIES_PER_CALL:
                results[monitor.id] = BadInput(monitor.id, "guards", f"at most {MAX_QUERIES_PER_CALL - 1} guards")
                continue
            windows[query_window(monitor, now)].append(monitor)
        # One call serves one time window; monitors sharing a period and window length share calls.
        for (start, end), group in windows.items():
            for batch in _batches(group):
                results.update(self._fetch(batch, start, end))
        return results

    def _fetch(self, batch: Sequence[MonitorConfig], start: datetime, end: datetime) -> dict[str, Result]:
        queries: list[MetricDataQueryTypeDef] = []
        owner: dict[str, tuple[str, str | None]] = {}  # query id -> (monitor id, guard metric or None)
        for index, monitor in enumerate(batch):
            metrics: list[str | None] = [None, *monitor.guard_metrics]
            for position, guard in enumerate(metrics):
                query_id = f"m{index}_{position}"
                owner[query_id] = (monitor.id, guard)
                queries.append(_query(query_id, monitor, guard))

        series: dict[str, dict[datetime, float]] = defaultdict(dict)
        failed: dict[str, RetrainTriggerError] = {}
        try:
            with translated(f"GetMetricData for {len(batch)} monitors"):
                pages = self.client.get_paginator("get_metric_data").paginate(
                    MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampDescending"
                )
                for page in pages:
                    for result in page.get("MetricDataResults", []):
                        query_id = result.get("Id", "")
                        if query_id not in owner:
                            continue
                        status = result.get("StatusCode", "Complete")
                        if status in ("InternalError", "Forbidden"):
                            error_type = RetryableError if status == "InternalError" else DependencyError
                            failed[owner[query_id][0]] = error_type(f"GetMetricData {query_id}: {status}")
                        values = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                        series[query_id].update((at.astimezone(UTC), value) for at, value in values)
        except RetrainTriggerError as error:
            return {monitor.id: error for monitor in batch}

        results: dict[str, Result] = {}
        for index, monitor in enumerate(batch):
            if monitor.id in failed:
                results[monitor.id] = failed[monitor.id]
                continue
            guards = {metric: series[f"m{index}_{p}"] for p, metric in enumerate(monitor.guard_metrics, start=1)}
            scores = series[f"m{index}_0"]
            newest = sorted(scores, reverse=True)[: monitor.evaluation_periods]
            try:
                results[monitor.id] = tuple(
                    _observation(
                        monitor,
                        _metric_name(monitor),
                        at,
                        scores[at],
                        {metric: values[at] for metric, values in guards.items() if at in values},
                    )
                    for at in reversed(newest)
                )
            except BadInput as error:
                results[monitor.id] = error
        return results


def query_window(monitor: MonitorConfig, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the GetMetricData call: the staleness span plus the evaluation window, into the future by a
    period. The start is floored to a whole period so the buckets, and so the datapoint times, do not move per tick."""
    assert isinstance(monitor.source, CloudWatchSource)
    period = monitor.source.period
    seconds = max(int(period.total_seconds()), 1)
    earliest = now - (monitor.staleness + period * monitor.evaluation_periods)
    start = datetime.fromtimestamp(int(earliest.timestamp()) // seconds * seconds, UTC)
    return start, now.astimezone(UTC) + timedelta(seconds=seconds)


def _metric_name(monitor: MonitorConfig) -> str:
    assert isinstance(monitor.source, CloudWatchSource)
    return monitor.source.metric_name


def _query(query_id: str, monitor: MonitorConfig, guard: str | None) -> MetricDataQueryTypeDef:
    source = monitor.source
    assert isinstance(source, CloudWatchSource)
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": source.namespace,
                "MetricName": guard or source.metric_name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in sorted(source.dimensions.items())],
            },
            "Period": max(int(source.period.total_seconds()), 1),
            "Stat": source.stat,
        },
        "ReturnData": True,
    }


def _batches(monitors: Sequence[MonitorConfig]) -> Iterator[list[MonitorConfig]]:
    """Consecutive monitors packed into calls of at most 500 queries; a monitor's queries never straddle two."""
    batch: list[MonitorConfig] = []
    size = 0
    for monitor in monitors:
        needed = 1 + len(monitor.guards)
        if batch and size + needed > MAX_QUERIES_PER_CALL:
            yield batch
            batch, size = [], 0
        batch.append(monitor)
        size += needed
    if batch:
        yield batch


class ScoreSources:
    """Routes each monitor to the source for its `source.type` and merges the answers."""

    def __init__(self, by_type: Mapping[str, ScoreSource]) -> None:
        self.by_type = dict(by_type)

    def latest(self, monitors: Sequence[MonitorConfig], now: datetime) -> dict[str, Result]:
        """Every monitor gets an entry: its datapoints, or the error that made them unreadable."""
        groups: dict[str, list[MonitorConfig]] = defaultdict(list)
        for monitor in monitors:
            groups[monitor.source.type].append(monitor)
        results: dict[str, Result] = {}
        for source_type, group in groups.items():
            source = self.by_type.get(source_type)
            if source is None:
                for monitor in group:
                    results[monitor.id] = BadInput(monitor.id, "source.type", f"no score source for {source_type!r}")
                continue
            try:
                found: Mapping[str, Result] = source.latest(group, now)
            except RetrainTriggerError as error:
                found = {monitor.id: error for monitor in group}
            for monitor in group:
                results[monitor.id] = found.get(
                    monitor.id, DependencyError(f"the {source_type} score source returned nothing for {monitor.id}")
                )
        return results
