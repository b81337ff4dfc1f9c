"""Score sources: the latest datapoints of many monitors, read in batches, one error per monitor at worst.

Read "as of" the tick's time `now`: nothing stamped after `now` is returned, so a late or retried tick decides
exactly as an on-time one. Every instant is UTC from here on. A DynamoDB item stamped more than FUTURE_TOLERANCE
ahead of the wall clock is bad input (a producer's broken clock or a local time written as UTC). A bad DynamoDB item
is skipped and named in the result's `refused`, and the read goes on past it: one bad item never blocks a monitor.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from retrain_trigger.adapters.clients import aws_client, translated
from retrain_trigger.config import CloudWatchSource, DynamoDBSource, MonitorConfig
from retrain_trigger.errors import BadInput, DependencyError, RetrainTriggerError, RetryableError
from retrain_trigger.features import attributes, from_metrics, metric_names, observe
from retrain_trigger.model import Datapoints, Observation, RefusedItem
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
FUTURE_TOLERANCE = timedelta(minutes=5)  # how far ahead of the wall clock a producer's clock may run
# Bad score items a read skips for one monitor before it gives up: each is reported once (and remembered in the
# monitor's state), so this bounds both the alerts of one tick and what the state remembers.
MAX_REFUSED = 16

# The score table sorts items by the timestamp's TEXT. In this one form (UTC, 'T', seconds, optional fraction)
# text order is time order, to the second; any other offset or form would be read out of order.
_UTC_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")
UTC_FORM = "YYYY-MM-DDTHH:MM:SS[.ffffff]Z (or +00:00)"

_deserializer = TypeDeserializer()


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(monitor_id: str, value: object) -> datetime:
    """A score item's timestamp, in UTC. Anything not written as UTC in the sortable form is BadInput on
    'timestamp': no timezone, another offset, another form, or no time at all."""
    if not isinstance(value, str):
        raise BadInput(monitor_id, TIMESTAMP_ATTRIBUTE, f"expected an ISO-8601 string, got {value!r}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        at = datetime.fromisoformat(text)
    except ValueError as error:
        raise BadInput(monitor_id, TIMESTAMP_ATTRIBUTE, f"not an ISO-8601 time: {value!r}") from error
    if at.tzinfo is None:
        raise BadInput(monitor_id, TIMESTAMP_ATTRIBUTE, f"{value!r} has no timezone; producers must write UTC")
    if not _UTC_TEXT.match(value):
        raise BadInput(
            monitor_id,
            TIMESTAMP_ATTRIBUTE,
            f"{value!r} is not written as UTC {UTC_FORM}: the table orders items by this text, "
            "so producers must write UTC",
        )
    return at.astimezone(UTC)


def item_key(item: Mapping[str, Any]) -> str:
    """A score item's key within its monitor, as stored: the timestamp's text (what a person looks the item up by)."""
    raw = item.get(TIMESTAMP_ATTRIBUTE)
    if isinstance(raw, Mapping) and isinstance(raw.get("S"), str):
        return str(raw["S"])
    return "(no timestamp)" if raw is None else repr(_deserializer.deserialize(raw))


def ahead_of_the_clock(monitor_id: str, at: datetime) -> BadInput:
    return BadInput(
        monitor_id,
        TIMESTAMP_ATTRIBUTE,
        f"datapoint at {at.isoformat()} is ahead of the clock by more than {FUTURE_TOLERANCE}: "
        "the producer's clock is wrong, or it wrote a local time as UTC",
    )


def _stamp(monitor_id: str, item: Mapping[str, AttributeValueTypeDef]) -> datetime:
    raw = item.get(TIMESTAMP_ATTRIBUTE)
    return parse_timestamp(monitor_id, None if raw is None else _deserializer.deserialize(raw))


def _before_next_second(now: datetime) -> str:
    """A sort-key bound below which lie exactly the items stamped in `now`'s second or earlier, whatever their
    suffix ('Z', '+00:00', a fraction): the next second's text without a suffix sorts above all of them."""
    return (now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


class DynamoDBScoreSource:
    """Scores stored as items (monitor_id, timestamp) -> score and guard metrics. One Query per monitor when the
    tick is on time; a late or retried tick that finds newer items reads again, bounded by its own time."""

    def __init__(
        self,
        default_table: str,
        client: DynamoDBClient | None = None,
        max_workers: int = 8,
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self.default_table = default_table
        self._client = client
        self.max_workers = max_workers
        self.clock = clock  # the wall clock: only to refuse datapoints from the future

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def latest(self, monitors: Sequence[MonitorConfig], now: datetime) -> dict[str, Result]:
        """Each DynamoDB-sourced monitor's newest `evaluation_periods` items at or before `now`, oldest first,
        or its error."""
        chosen = [m for m in monitors if isinstance(m.source, DynamoDBSource)]
        sources = [m.source for m in chosen if isinstance(m.source, DynamoDBSource)]
        nows = [now] * len(chosen)
        if len(chosen) <= 1:
            return {m.id: self._read(m, source, now) for m, source in zip(chosen, sources, strict=True)}
        _ = self.client  # create the shared client once, before the threads race to
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(chosen))) as pool:
            return dict(zip((m.id for m in chosen), pool.map(self._read, chosen, sources, nows), strict=True))

    def _read(self, monitor: MonitorConfig, source: DynamoDBSource, now: datetime) -> Result:
        refused: dict[str, RefusedItem] = {}
        try:
            # The newest items, unbounded: an on-time tick needs no more, and they show any item from the future.
            found = self._newest(monitor, source, now, refused)
            if found is None:  # a late or retried tick: read again as of its own time
                found = self._newest(monitor, source, now, refused, before=_before_next_second(now)) or []
        except RetrainTriggerError as error:
            return error
        return Datapoints(reversed(found), refused.values())

    def _newest(
        self,
        monitor: MonitorConfig,
        source: DynamoDBSource,
        now: datetime,
        refused: dict[str, RefusedItem],
        before: str | None = None,
    ) -> list[Observation] | None:
        """The newest `evaluation_periods` valid datapoints at or before `now`, newest first. An item that cannot be a
        datapoint (its time not UTC text, far ahead of the clock, its score not a number) is added to `refused` and
        the read goes on past it, so one bad item never hides the valid ones. Unbounded (`before` None), None as soon
        as an item after `now` shows: the caller reads again below `now`'s next second, where the few items later in
        that second are dropped here."""
        found: list[Observation] = []
        start: Mapping[str, Any] | None = None
        limit = self.clock() + FUTURE_TOLERANCE
        while len(found) < monitor.evaluation_periods:
            items, start = self._query(
                monitor, source, monitor.evaluation_periods - len(found), before=before, start=start
            )
            for item in items:
                try:
                    at = _stamp(monitor.id, item)
                    if at > limit:
                        raise ahead_of_the_clock(monitor.id, at)
                    if at > now:
                        if before is None:
                            return None
                        continue
                    found.append(self._to_observation(monitor, source, at, item))
                except BadInput as error:
                    key = item_key(item)
                    refused.setdefault(key, RefusedItem(key, error))
                    if len(refused) > MAX_REFUSED:
                        raise BadInput(
                            monitor.id,
                            error.field,
                            f"more than {MAX_REFUSED} unreadable score items above its valid ones; the last: "
                            f"{error.problem}",
                        ) from error
            if start is None:
                break
        return found

    def _query(
        self,
        monitor: MonitorConfig,
        source: DynamoDBSource,
        limit: int,
        before: str | None = None,
        start: Mapping[str, Any] | None = None,
    ) -> tuple[list[dict[str, AttributeValueTypeDef]], Mapping[str, Any] | None]:
        """One page of the monitor's items, newest first, optionally only those sorting below `before`."""
        table = source.table or self.default_table
        more = attributes(monitor)  # None: every attribute (a `score` over "*" features)
        wanted = dict.fromkeys((TIMESTAMP_ATTRIBUTE, source.score_attribute, *monitor.guard_metrics, *(more or ())))
        names = {f"#a{i}": name for i, name in enumerate(wanted)}  # #a0 is the timestamp
        condition, values = "monitor_id = :id", {":id": {"S": monitor.id}}
        if before is not None:
            condition, values = condition + " AND #a0 < :before", values | {":before": {"S": before}}
        extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        if more is None:  # DynamoDB refuses an expression name that no expression uses
            names = {"#a0": TIMESTAMP_ATTRIBUTE} if before is not None else {}
        else:
            extra["ProjectionExpression"] = ", ".join(names)
        if names:
            extra["ExpressionAttributeNames"] = names
        with translated(f"Query {table} for monitor {monitor.id}"):
            response = self.client.query(
                TableName=table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=limit,
                **extra,
            )
        return response.get("Items", []), response.get("LastEvaluatedKey")

    @staticmethod
    def _to_observation(
        monitor: MonitorConfig, source: DynamoDBSource, at: datetime, item: Mapping[str, AttributeValueTypeDef]
    ) -> Observation:
        values: dict[str, Any] = {name: _deserializer.deserialize(value) for name, value in item.items()}
        metrics = {name: values[name] for name in monitor.guard_metrics if name in values}
        not_features = (source.score_attribute, *monitor.guard_metrics)
        return observe(monitor, at, values, source.score_attribute, metrics, not_features)


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
            if len(metric_names(monitor, monitor.source.metric_name)) > MAX_QUERIES_PER_CALL:
                field = "score.features" if monitor.score else "guards"
                results[monitor.id] = BadInput(monitor.id, field, f"at most {MAX_QUERIES_PER_CALL} metrics in all")
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
            for position, metric in enumerate(metric_names(monitor, source.metric_name)):
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
            names = metric_names(monitor, source.metric_name)
            by_metric = {metric: series[f"m{index}_{p}"] for p, metric in enumerate(names)}
            try:
                results[monitor.id] = from_metrics(monitor, source.metric_name, by_metric)
            except BadInput as error:
                results[monitor.id] = error
        return results


def query_window(monitor: MonitorConfig, source: CloudWatchSource, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the GetMetricData call: the staleness span plus the evaluation window, up to `now`. The start
    is floored to a whole period so the buckets, and so the datapoint times, do not move per tick. EndTime is
    exclusive and CloudWatch reads whole seconds, so the end is the second after `now`'s: a datapoint stamped at
    `now` counts, a later one does not (CloudWatch itself refuses datapoints more than two hours ahead)."""
    seconds = _period_seconds(source)
    earliest = now - (monitor.staleness + source.period * monitor.evaluation_periods)
    start = datetime.fromtimestamp(int(earliest.timestamp()) // seconds * seconds, UTC)
    return start, now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)


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
        needed = len(metric_names(watched[0], watched[1].metric_name))
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
