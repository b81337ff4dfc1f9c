"""Score windows: per monitor, one item holding its latest datapoints, kept by the score table's stream consumer, so a
tick reads 100 monitors' scores with one BatchGetItem instead of 100 Queries.

The window item (ScoreWindowTable, key monitor_id):
- `points`: timestamp text -> the score item as the producer wrote it (every attribute but the key's monitor_id);
- `seqs`: timestamp text -> the stream sequence number that wrote it, so a retried or out-of-order record never
  overwrites a newer write of the same score item;
- `removed`: timestamp text -> the sequence number of the REMOVE that deleted it (a tombstone), so an older INSERT
  of that item seen after its REMOVE (a retried or bisected batch) cannot bring the deleted datapoint back. Bounded
  like the window: the newest WINDOW_CAPACITY by instant, none older than a full window's oldest datapoint;
- `complete`: true while the window holds every datapoint of the monitor older than its newest (nothing was
  dropped to bound it): a window that is not complete and has too few datapoints as of a late tick sends that
  monitor to the Query path;
- `refused`: timestamp text -> sequence number of the score items refused as they entered: a timestamp that is not
  UTC in the sortable form (or no time at all) could never be read in its place, so it never enters the window; it
  is reported once (a log line and an `error` alert naming the monitor, the item and the field) and remembered here
  (the newest REFUSED_CAPACITY) so a retried record or a MODIFY of it does not report it again; a REMOVE forgets it;
- `malformed`: kept by earlier versions of this consumer (the last unreadable timestamp); only read;
- `version`: the optimistic lock of the consumer's read-modify-write.

Merging is idempotent and order-free: a record applies only if its sequence number is at least the one the window
holds for that datapoint, and the window keeps the newest WINDOW_CAPACITY datapoints by instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from retrain_trigger.adapters.batch_get import BATCH_GET_LIMIT, batch_get_items
from retrain_trigger.adapters.clients import aws_client, translate_error, translated
from retrain_trigger.adapters.scores import (
    FUTURE_TOLERANCE,
    TIMESTAMP_ATTRIBUTE,
    DynamoDBScoreSource,
    ahead_of_the_clock,
    parse_timestamp,
)
from retrain_trigger.config import DynamoDBSource, MonitorConfig
from retrain_trigger.errors import BadInput, RetrainTriggerError, RetryableError
from retrain_trigger.model import Datapoints, Observation, RefusedItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Result = Sequence[Observation] | RetrainTriggerError
Image = dict[str, "AttributeValueTypeDef"]

KEY = "monitor_id"
# More than the largest evaluation_periods (100), so a tick somewhat behind the newest writes still finds its window.
WINDOW_CAPACITY = 128
MAX_WINDOW_BYTES = 300_000  # DynamoDB refuses items over 400 KB; oldest datapoints go first past this
REFUSED_CAPACITY = 32  # refused items remembered per window, the newest by sequence number
WRITE_ATTEMPTS = 5


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def instant(text: str) -> datetime | None:
    """Where a timestamp sorts in the window: its instant, read leniently (no timezone counts as UTC) so that a
    datapoint the evaluator will refuse still takes its place; None when it is no time at all."""
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _size(value: Any) -> int:
    """An upper estimate of an attribute value's stored size, in bytes."""
    if isinstance(value, Mapping):
        return sum(len(str(k)) + _size(v) for k, v in value.items()) + 3
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value) + 3
    return len(str(value).encode()) + 1


@dataclass
class Window:
    """One monitor's window as the consumer merges it."""

    monitor_id: str
    points: dict[str, Image] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)  # tombstones: timestamp text -> the REMOVE's sequence
    refused: dict[str, int] = field(default_factory=dict)  # refused as they entered: timestamp text -> sequence
    complete: bool = True
    malformed: tuple[str, int] | None = None  # (timestamp text, its sequence number), from an earlier consumer
    version: int = 0
    refusals: list[RefusedItem] = field(default_factory=list, compare=False)  # refused by this merge: to report

    def apply(self, record: Mapping[str, Any]) -> None:
        """One stream record of the score table (INSERT, MODIFY or REMOVE); a stale or repeated one changes nothing."""
        stream = record.get("dynamodb", {})
        text = str(stream.get("Keys", {}).get(TIMESTAMP_ATTRIBUTE, {}).get("S", ""))
        seq = int(stream.get("SequenceNumber", "0"))
        if self.refuse(text, seq, removed=record.get("eventName") == "REMOVE"):
            return
        if max(self.seqs.get(text, -1), self.removed.get(text, -1)) > seq:
            return
        if record.get("eventName") == "REMOVE":
            self.points.pop(text, None)
            self.seqs.pop(text, None)
            self.removed[text] = seq
            return
        image = {k: v for k, v in stream.get("NewImage", {}).items() if k != KEY}
        self.points[text], self.seqs[text] = image, seq
        self.removed.pop(text, None)
        if self.malformed is not None and seq > self.malformed[1]:
            self.malformed = None

    def refuse(self, text: str, seq: int, *, removed: bool = False) -> bool:
        """True when the item's timestamp is not one the evaluator can read in its place: then it never enters the
        window, and it is reported the first time it is seen (a REMOVE forgets it: its producer deleted it)."""
        try:
            parse_timestamp(self.monitor_id, text)
        except BadInput as error:
            if removed:
                self.refused.pop(text, None)
                if self.malformed is not None and self.malformed[0] == text:
                    self.malformed = None
            elif self.refused.get(text, -1) < seq:
                if text not in self.refused:
                    self.refusals.append(RefusedItem(text, error))
                self.refused[text] = seq
            return True
        return False

    def bounded(self) -> None:
        """Keep the newest WINDOW_CAPACITY datapoints by instant, within MAX_WINDOW_BYTES."""
        order = sorted(self.points, key=lambda t: (instant(t) or datetime.min.replace(tzinfo=UTC), t), reverse=True)
        kept: list[str] = []
        size = 0
        for text in order:
            size += _size(self.points[text]) + len(text) * 2 + 24
            if len(kept) >= WINDOW_CAPACITY or size > MAX_WINDOW_BYTES:
                break
            kept.append(text)
        if len(kept) < len(order):
            self.complete = False
            self.points = {t: self.points[t] for t in kept}
            self.seqs = {t: self.seqs[t] for t in kept if t in self.seqs}
        # A tombstone older than a full window's oldest datapoint guards nothing: an INSERT that old is cut here.
        oldest = instant(kept[-1]) if len(kept) >= WINDOW_CAPACITY else None
        tombstones = sorted(
            ((at, t) for t in self.removed if (at := instant(t)) is not None and (oldest is None or at >= oldest)),
            reverse=True,
        )[:WINDOW_CAPACITY]
        self.removed = {t: self.removed[t] for _at, t in tombstones}
        newest = sorted(self.refused.items(), key=lambda entry: entry[1], reverse=True)[:REFUSED_CAPACITY]
        self.refused = dict(newest)

    def item(self) -> Image:
        item: Image = {
            KEY: {"S": self.monitor_id},
            "points": {"M": {t: {"M": image} for t, image in self.points.items()}},
            "seqs": {"M": {t: {"N": str(seq)} for t, seq in self.seqs.items()}},
            "complete": {"BOOL": self.complete},
            "version": {"N": str(self.version + 1)},
        }
        if self.removed:
            item["removed"] = {"M": {t: {"N": str(seq)} for t, seq in self.removed.items()}}
        if self.refused:
            item["refused"] = {"M": {t: {"N": str(seq)} for t, seq in self.refused.items()}}
        if self.malformed is not None:
            item["malformed"] = {"M": {"text": {"S": self.malformed[0]}, "seq": {"N": str(self.malformed[1])}}}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Window:
        malformed = item.get("malformed", {}).get("M")
        return cls(
            monitor_id=str(item[KEY]["S"]),
            points={t: dict(v["M"]) for t, v in item.get("points", {}).get("M", {}).items()},
            seqs={t: int(v["N"]) for t, v in item.get("seqs", {}).get("M", {}).items()},
            removed={t: int(v["N"]) for t, v in item.get("removed", {}).get("M", {}).items()},
            refused={t: int(v["N"]) for t, v in item.get("refused", {}).get("M", {}).items()},
            complete=bool(item.get("complete", {}).get("BOOL", False)),
            malformed=(str(malformed["text"]["S"]), int(malformed["seq"]["N"])) if malformed else None,
            version=int(item.get("version", {}).get("N", "0")),
        )


def _batch_get(
    client: DynamoDBClient, table: str, ids: Sequence[str], sleep: Callable[[float], None]
) -> dict[str, dict[str, Any]]:
    """The window items of up to 100 monitors, by monitor id."""
    items = batch_get_items(client, table, [{KEY: {"S": i}} for i in ids], sleep)
    return {str(item[KEY]["S"]): dict(item) for item in items}


RefusalReport = Callable[[str, RefusedItem], None]  # (monitor id, the item): raises RetrainTriggerError if not reported


class ScoreWindowWriter:
    """The stream consumer's side: merges a batch of score-table records into the windows, one write per monitor.
    A score item refused as it enters is reported (`report`) before the window that remembers it is written, so a
    failed report fails that monitor's records, which the stream retries: never lost, at worst reported twice under
    its one key."""

    def __init__(
        self,
        window_table: str,
        score_table: str,
        client: DynamoDBClient | None = None,
        *,
        report: RefusalReport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.window_table = window_table
        self.score_table = score_table
        self._client = client
        self._report = report
        self._sleep = sleep
        self.refused: list[RefusedItem] = []  # refused by the last `apply`: the handler logs them

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def apply(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Merge the records; returns the sequence numbers of the records whose monitor's window could not be
        written (Lambda's partial batch response: the stream is retried from the first of them)."""
        self.refused = []
        by_monitor: dict[str, list[Mapping[str, Any]]] = {}
        for record in records:
            keys = record.get("dynamodb", {}).get("Keys", {})
            by_monitor.setdefault(str(keys.get(KEY, {}).get("S", "")), []).append(record)
        ids = list(by_monitor)
        stored: dict[str, dict[str, Any]] = {}
        failed: list[str] = []
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            batch = ids[start : start + BATCH_GET_LIMIT]
            try:
                stored |= _batch_get(self.client, self.window_table, batch, self._sleep)
            except RetrainTriggerError:
                failed += batch
        for monitor_id in ids:
            if monitor_id in failed:
                continue
            try:
                self._merge(monitor_id, by_monitor[monitor_id], stored.get(monitor_id))
            except RetrainTriggerError:
                failed.append(monitor_id)
        return [str(r["dynamodb"]["SequenceNumber"]) for m in failed for r in by_monitor[m]]

    def _merge(self, monitor_id: str, records: Sequence[Mapping[str, Any]], item: Mapping[str, Any] | None) -> None:
        reported: set[str] = set()
        for _ in range(WRITE_ATTEMPTS):
            window = Window.from_item(item) if item is not None else self._seeded(monitor_id)
            before = window.item() if item is not None else None
            for record in records:
                window.apply(record)
            window.bounded()
            for refusal in (r for r in window.refusals if r.key not in reported):
                if self._report is not None:
                    self._report(monitor_id, refusal)
                reported.add(refusal.key)
                self.refused.append(refusal)
            if window.item() == before:
                return  # a retried or stale batch: nothing to write
            if self._put(window):
                return
            item = self._get(monitor_id)  # another invocation wrote the window first: merge into its version
        raise RetryableError(f"window of {monitor_id}: kept changing under {WRITE_ATTEMPTS} attempts")

    def _seeded(self, monitor_id: str) -> Window:
        """A monitor's first window, from the table's newest datapoints (written before the stream, or before this
        consumer was deployed): the window is then the truth from the start. One Query per monitor, once."""
        with translated(f"Query {self.score_table} to seed the window of {monitor_id}"):
            response = self.client.query(
                TableName=self.score_table,
                KeyConditionExpression="#k = :id",
                ExpressionAttributeNames={"#k": KEY},
                ExpressionAttributeValues={":id": {"S": monitor_id}},
                ScanIndexForward=False,
                Limit=WINDOW_CAPACITY,
            )
        window = Window(monitor_id, complete="LastEvaluatedKey" not in response)
        for item in response.get("Items", []):
            text = str(item.get(TIMESTAMP_ATTRIBUTE, {}).get("S", ""))
            if window.refuse(text, 0):
                continue
            window.points[text], window.seqs[text] = {k: v for k, v in item.items() if k != KEY}, 0
        return window

    def _get(self, monitor_id: str) -> dict[str, Any] | None:
        with translated(f"GetItem on {self.window_table}"):
            response = self.client.get_item(
                TableName=self.window_table, Key={KEY: {"S": monitor_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return dict(item) if item else None

    def _put(self, window: Window) -> bool:
        """The conditional write; False when another writer moved the window first."""
        try:
            # Stored versions start at 1, so version 0 (a new window) can only match the absent item.
            self.client.put_item(
                TableName=self.window_table,
                Item=window.item(),
                ConditionExpression="attribute_not_exists(#k) OR #v = :v",
                ExpressionAttributeNames={"#k": KEY, "#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(window.version)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise translate_error(error, what=f"PutItem on {self.window_table}") from error
        except BotoCoreError as error:
            raise translate_error(error, what=f"PutItem on {self.window_table}") from error
        return True


class WindowedScoreSource:
    """ports.ScoreSource for DynamoDB-sourced monitors: their windows by BatchGetItem (100 a call). A monitor without a
    window (no score since the consumer was deployed), whose scores live in another table, or whose window no longer
    holds enough datapoints as of a late tick, is read by the Query path (`fallback`) instead."""

    def __init__(
        self,
        window_table: str,
        fallback: DynamoDBScoreSource,
        client: DynamoDBClient | None = None,
        clock: Callable[[], datetime] = _wall_clock,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.window_table = window_table
        self.fallback = fallback
        self._client = client
        self.clock = clock
        self._sleep = sleep

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def latest(self, monitors: Sequence[MonitorConfig], now: datetime) -> dict[str, Result]:
        chosen = [m for m in monitors if isinstance(m.source, DynamoDBSource)]
        windowed = [m for m in chosen if self._windowed(m)]
        results: dict[str, Result] = {}
        queried = [m for m in chosen if not self._windowed(m)]
        for start in range(0, len(windowed), BATCH_GET_LIMIT):
            batch = windowed[start : start + BATCH_GET_LIMIT]
            try:
                items = _batch_get(self.client, self.window_table, [m.id for m in batch], self._sleep)
            except RetrainTriggerError as error:
                results |= dict.fromkeys((m.id for m in batch), error)
                continue
            for monitor in batch:
                item = items.get(monitor.id)
                read = None if item is None else self._read(monitor, Window.from_item(item), now)
                if read is None:
                    queried.append(monitor)
                else:
                    results[monitor.id] = read
        if queried:
            results |= self.fallback.latest(queried, now)
        return results

    def _windowed(self, monitor: MonitorConfig) -> bool:
        source = monitor.source
        return isinstance(source, DynamoDBSource) and source.table in (None, self.fallback.default_table)

    def _read(self, monitor: MonitorConfig, window: Window, now: datetime) -> Result | None:
        """As the Query path reads: the newest `evaluation_periods` valid datapoints at or before `now`, oldest first,
        each checked by the same rules (UTC text, not far ahead of the wall clock, a number), a bad one skipped and
        named in `refused`; None when the window cannot tell."""
        assert isinstance(monitor.source, DynamoDBSource)
        refused: list[RefusedItem] = []
        if window.malformed is not None:  # kept by an earlier consumer, which did not refuse such items itself
            try:
                parse_timestamp(monitor.id, window.malformed[0])
            except BadInput as error:
                refused.append(RefusedItem(window.malformed[0], error))
        ordered = sorted(((at, text) for text in window.points if (at := instant(text)) is not None), reverse=True)
        limit = self.clock() + FUTURE_TOLERANCE
        found: list[Observation] = []
        for at, text in ordered:
            if len(found) >= monitor.evaluation_periods:
                break
            try:
                checked = parse_timestamp(monitor.id, text)
                if checked > limit:
                    raise ahead_of_the_clock(monitor.id, at)
                if at > now:
                    continue
                found.append(
                    DynamoDBScoreSource._to_observation(  # the Query path's own conversion and checks
                        monitor, monitor.source, checked, window.points[text]
                    )
                )
            except BadInput as error:
                refused.append(RefusedItem(text, error))
        if len(found) < monitor.evaluation_periods and not window.complete:
            return None  # older datapoints were dropped from the window: only the table has them
        return Datapoints(reversed(found), refused)
