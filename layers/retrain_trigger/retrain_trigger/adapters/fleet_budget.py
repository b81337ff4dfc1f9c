"""The fleet's retraining budget and the CloudWatch alarm states that inhibit monitors (docs/fleet.md).

The budget lives in the state table, under pk "fleet#budget": sk "hour#<UTC hour>" and "day#<UTC date>" hold the
string set `taken` of what each window counted (TTL `expires_at`), sk "running" the set of retrainings running.
A retraining is one key, `<episode id>#<attempt>`, added to every limited set in one transaction whose
conditions each read "the set is absent, or has the key, or has room": so concurrent evaluators can never overspend
it (the transaction either fits every limit or changes nothing), and taking it again for the same key changes
nothing and costs no slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from retrain_trigger.adapters.clients import aws_client, translate_error, translated
from retrain_trigger.fleet_config import FleetConfig

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient

BUDGET_PK = "fleet#budget"
RUNNING_SK = "running"
DESCRIBE_ALARMS_LIMIT = 100  # AlarmNames per DescribeAlarms call
# Absent, or counted this key already (a retake is free), or has room: a transaction of these never overspends.
_ROOM = "attribute_not_exists(taken) OR contains(taken, :one) OR size(taken) < :limit"
_KEEP_WINDOW = timedelta(days=2)  # a window's item outlives the window, then DynamoDB's TTL drops it


class DynamoDBFleetBudget:
    """The budget on the state table (see the module's docstring)."""

    def __init__(
        self, table_name: str, client: DynamoDBClient | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._clock = clock

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def take(self, key: str, now: datetime, fleet: FleetConfig) -> bool:
        """Count retraining `key` against every limit of `fleet` at `now`: True when it fits them all (or was
        counted already), False when any limit is full (nothing is counted then)."""
        now = now.astimezone(UTC)
        limited = [
            (f"hour#{now:%Y-%m-%dT%H}", fleet.max_retrains_per_hour),
            (f"day#{now:%Y-%m-%d}", fleet.max_retrains_per_day),
            (RUNNING_SK, fleet.max_concurrent_retrains),
        ]
        windows = [(sk, limit) for sk, limit in limited if limit is not None]
        if not windows:
            return True
        if any(limit == 0 for _, limit in windows):
            return False  # a freeze: "absent or has room" would let the first one through
        expires = str(int(self._clock() + _KEEP_WINDOW.total_seconds()))
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"pk": {"S": BUDGET_PK}, "sk": {"S": sk}},
                    "UpdateExpression": "ADD taken :key" + ("" if sk == RUNNING_SK else " SET expires_at = :expires"),
                    "ConditionExpression": _ROOM,
                    "ExpressionAttributeValues": {
                        ":key": {"SS": [key]},
                        ":one": {"S": key},
                        ":limit": {"N": str(limit)},
                        **({} if sk == RUNNING_SK else {":expires": {"N": expires}}),
                    },
                }
            }
            for sk, limit in windows
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _over_budget(error):
                return False
            raise translate_error(error, what="fleet budget take") from error
        except BotoCoreError as error:
            raise translate_error(error, what="fleet budget take") from error
        return True

    def release(self, key: str) -> None:
        """Retraining `key` ended: its concurrency slot frees (its hour and day stay counted). Idempotent."""
        with translated("fleet budget release"):
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": BUDGET_PK}, "sk": {"S": RUNNING_SK}},
                UpdateExpression="DELETE taken :key",
                ExpressionAttributeValues={":key": {"SS": [key]}},
            )

    def running(self) -> set[str]:
        """The retrainings holding a concurrency slot (for reports and tests)."""
        with translated("fleet budget read"):
            item = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": BUDGET_PK}, "sk": {"S": RUNNING_SK}},
                ConsistentRead=True,
            ).get("Item", {})
        return set(item.get("taken", {}).get("SS", []))


def _over_budget(error: ClientError) -> bool:
    """A transaction cancelled only by our conditions (not a conflict, not a throttle): some limit is full."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons: Sequence[Mapping[str, Any]] = error.response.get("CancellationReasons", [])
    codes = {str(reason.get("Code", "None")) for reason in reasons}
    return "ConditionalCheckFailed" in codes and codes <= {"ConditionalCheckFailed", "None"}


class CloudWatchAlarmStates:
    """Alarm name -> StateValue, read with DescribeAlarms in batches of 100 names."""

    def __init__(self, client: CloudWatchClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> CloudWatchClient:
        if self._client is None:
            self._client = aws_client("cloudwatch")
        return self._client

    def states(self, names: Iterable[str]) -> dict[str, str]:
        """The state of each named alarm that exists (a missing alarm is absent: it inhibits nothing)."""
        wanted = sorted(set(names))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), DESCRIBE_ALARMS_LIMIT):
            batch = wanted[start : start + DESCRIBE_ALARMS_LIMIT]
            token = ""
            while True:
                more: dict[str, Any] = {"NextToken": token} if token else {}  # an empty token is not "none"
                with translated("cloudwatch DescribeAlarms"):
                    page = self.client.describe_alarms(
                        AlarmNames=batch,
                        AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                        MaxRecords=DESCRIBE_ALARMS_LIMIT,
                        **more,
                    )
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    found[alarm["AlarmName"]] = alarm["StateValue"]
                token = page.get("NextToken", "")
                if not token:
                    break
        return found
