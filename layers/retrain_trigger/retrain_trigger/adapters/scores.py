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
Watched = tuple[MonitorConfig, CloudWatchSource]  # a monitor with its source already narrowed to CloudWatch

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
    return Observation.checked(monitor.id, at, score, metrics, score_field=score_name)


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
        sources = [m.source for m in chosen if isinstance(m.source, DynamoDBSource)]
        if len(chosen) <= 1:
            return {m.id: self._read(m, source) for m, source in zip(chosen, sources, strict=True)}
        _ = self.client  # create the shared client once, before the threads race to
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(chosen))) as pool:
            return dict(zip((m.id for m in chosen), pool.map(self._read, chosen, sources), strict=True))

    def _read(self, monitor: MonitorConfig, source: DynamoDBSource) -> Result:
        try:
            items = self._query(monitor, source)
            return tuple(self._to_observation(monitor, source, item) for item in reversed(items))
        except RetrainTriggerError as error:
            return error

    def _query(self, monitor: MonitorConfig, source: DynamoDBSource) -> list[dict[str, AttributeValueTypeDef]]:
        table = source.table or self.default_table
        wanted = dict.fromkeys((TIMESTAMP_ATTRIBUTE, source.score_attribute, *monitor.guard_metrics))
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
    def _to_observation(
        monitor: MonitorConfig, source: DynamoDBSource, item: Mapping[str, AttributeValueTypeDef]
    ) -> Observation:
        values: dict[str, Any] = {name: _deserializer.deserialize(value) for name, value in item.items()}
        at = parse_timestamp(monitor.id, values.get(TIMESTAMP_ATTRIBUTE))
        score_name = source.score_attribute
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
        windows: dict[tuple[datetime, datetime], list[Watched]] = defaultdict(list)
        for monitor in monitors:
            if not isinstance(monitor.source, CloudWatchSource):
                continue
            if 1 + len(monitor.guards) > MAX_QUERIES_PER_CALL:
                results[monitor.id] = BadInput(monitor.id, "guards", f"at most {MAX_QUERIES_PER_CALL - 1} guards")
                continue
            windows[query_window(monitor, monitor.source, now)].append((monitor, monitor.source))
        # One call serves one time window; monitors sharing a period and window length share calls.
        for (start, end), group in windows.items():
            for batch in _batches(group):
                results.update(self._fetch(batch, start, end))
        return results

    def _fetch(self, batch: Sequence[Watched], start: datetime, end: datetime) -> dict[str, Result]:
        queries: list[MetricDataQueryTypeDef] = []
        owner: dict[str, str] = {}  # query id -> monitor id
        for index, (monitor, source) in enumerate(batch):
            for position, metric in enumerate((source.metric_name, *monitor.guard_metrics)):
                owner[f"m{index}_{position}"] = monitor.id
                queries.append(_query(f"m{index}_{position}", source, metric))

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
                        status = result.get("StatusCode", "Complete")
                        if query_id in owner and status in ("InternalError", "Forbidden"):
                            error_type = RetryableError if status == "InternalError" else DependencyError
                            failed[owner[query_id]] = error_type(f"GetMetricData query {query_id}: {status}")
                        values = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                        series[query_id].update((at.astimezone(UTC), value) for at, value in values)
        except RetrainTriggerError as error:
            return {monitor.id: error for monitor, _ in batch}

        results: dict[str, Result] = {}
        for index, (monitor, source) in enumerate(batch):
            if monitor.id in failed:
                results[monitor.id] = failed[monitor.id]
                continue
            scores = series[f"m{index}_0"]
            guards = {metric: series[f"m{index}_{p}"] for p, metric in enumerate(monitor.guard_metrics, start=1)}
            newest = sorted(scores, reverse=True)[: monitor.evaluation_periods]
            try:
                results[monitor.id] = tuple(
                    _observation(
                        monitor,
                        source.metric_name,
                        at,
                        scores[at],
                        {metric: values[at] for metric, values in guards.items() if at in values},
                    )
                    for at in reversed(newest)
                )
            except BadInput as error:
                results[monitor.id] = error
        return results


def query_window(monitor: MonitorConfig, source: CloudWatchSource, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the GetMetricData call: the staleness span plus the evaluation window, into the future by a
    period. The start is floored to a whole period so the buckets, and so the datapoint times, do not move per tick."""
    seconds = _period_seconds(source)
    earliest = now - (monitor.staleness + source.period * monitor.evaluation_periods)
    start = datetime.fromtimestamp(int(earliest.timestamp()) // seconds * seconds, UTC)
    return start, now.astimezone(UTC) + timedelta(seconds=seconds)


def _period_seconds(source: CloudWatchSource) -> int:
    return max(int(source.period.total_seconds()), 1)


def _query(query_id: str, source: CloudWatchSource, metric_name: str) -> MetricDataQueryTypeDef:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": source.namespace,
                "MetricName": metric_name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in sorted(source.dimensions.items())],
            },
            "Period": _period_seconds(source),
            "Stat": source.stat,
        },
        "ReturnData": True,
    }


def _batches(group: Sequence[Watched]) -> Iterator[list[Watched]]:
    """Consecutive monitors packed into calls of at most 500 queries; a monitor's queries never straddle two."""
    batch: list[Watched] = []
    size = 0
    for watched in group:
        needed = 1 + len(watched[0].guards)
        if batch and size + needed > MAX_QUERIES_PER_CALL:
            yield batch
            batch, size = [], 0
        batch.append(watched)
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
