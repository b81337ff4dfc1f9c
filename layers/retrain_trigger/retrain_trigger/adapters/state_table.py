"""The state table: one current-state item per monitor, written only by conditional writes, plus its history.

Keys: pk "monitor#<id>"; sk "state" for the current state, "history#<at>#<version>" for transitions (TTL
`expires_at`). `execution_arn` is set on the state item only while a retraining runs, for the ByExecution index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from retrain_trigger.adapters.batch_get import BATCH_GET_LIMIT, batch_get_items
from retrain_trigger.adapters.clients import aws_client, is_retryable_code, translate_error, translated
from retrain_trigger.errors import DependencyError, RetrainTriggerError, RetryableError, StaleState
from retrain_trigger.model import HistoryKind, MonitorState
from retrain_trigger.ports import HistoryEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, PutTypeDef

STATE_SK = "state"
HISTORY_PREFIX = "history#"
EXECUTION_INDEX = "ByExecution"
PENDING_INDEX = "ByPendingAction"  # sparse: only state items whose outbox has actions waiting
PENDING_SHARD = "pending"

_deserializer = TypeDeserializer()


def monitor_pk(monitor_id: str) -> str:
    return f"monitor#{monitor_id}"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _iso_z(at: datetime) -> str:
    return _utc(at).isoformat().replace("+00:00", "Z")


def history_sk(at: datetime, version: int) -> str:
    """Sorts by time, then version (versions only grow, so they order transitions within the same second)."""
    return f"{HISTORY_PREFIX}{_utc(at).strftime('%Y-%m-%dT%H:%M:%SZ')}#{version:010d}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class DynamoDBStateStore:
    """ports.StateStore on one DynamoDB table (see template.yaml's StateTable)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        ttl_days: int = 90,
        clock: Callable[[], float] = time.time,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self.ttl_days = ttl_days
        self._clock = clock
        self._sleep = sleep

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    # -- reads -----------------------------------------------------------------------------------------------

    def get_many(self, monitor_ids: Sequence[str]) -> dict[str, MonitorState | RetrainTriggerError]:
        """Current states by strongly consistent BatchGetItem; a monitor never written comes back at version 0, an
        unreadable item as its own DependencyError (the other monitors of the batch are unaffected)."""
        wanted = list(dict.fromkeys(monitor_ids))
        found: dict[str, MonitorState | RetrainTriggerError] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            for item in self._batch_get(wanted[start : start + BATCH_GET_LIMIT]):
                monitor_id = str(item["pk"].get("S", "")).removeprefix("monitor#")
                try:
                    found[monitor_id] = self._state_from_item(item)
                except DependencyError as error:
                    found[monitor_id] = error
        return {monitor_id: found.get(monitor_id) or MonitorState(monitor_id=monitor_id) for monitor_id in wanted}

    def get(self, monitor_id: str) -> MonitorState:
        state = self.get_many([monitor_id])[monitor_id]
        if isinstance(state, RetrainTriggerError):
            raise state
        return state

    def with_pending_actions(self) -> list[str]:
        """Monitors with outbox actions waiting, from the sparse ByPendingAction index (keys only)."""
        found: list[str] = []
        with translated(f"Query {PENDING_INDEX} on {self.table_name}"):
            for page in self.client.get_paginator("query").paginate(
                TableName=self.table_name,
                IndexName=PENDING_INDEX,
                KeyConditionExpression="pending_shard = :p",
                ExpressionAttributeValues={":p": {"S": PENDING_SHARD}},
            ):
                found.extend(str(item["pk"]["S"]).removeprefix("monitor#") for item in page.get("Items", []))
        return found

    def _batch_get(self, monitor_ids: Sequence[str]) -> list[dict[str, AttributeValueTypeDef]]:
        keys: list[Mapping[str, AttributeValueTypeDef]] = [
            {"pk": {"S": monitor_pk(i)}, "sk": {"S": STATE_SK}} for i in monitor_ids
        ]
        return batch_get_items(self.client, self.table_name, keys, self._sleep)

    def _state_from_item(self, item: Mapping[str, AttributeValueTypeDef]) -> MonitorState:
        pk = str(item["pk"].get("S", ""))
        try:
            state = MonitorState.model_validate_json(str(item["state"]["S"]))
            version = int(str(item["version"]["N"]))
        except (KeyError, ValueError, ValidationError) as error:
            raise DependencyError(f"state table {self.table_name}: unreadable state item {pk}: {error}") from error
        # The attribute is what the condition checks, so it is the truth about the version.
        return state.model_copy(update={"version": version})

    def find_by_execution(self, execution_arn: str) -> str | None:
        """The monitor whose retraining runs as this pipeline execution (the index is eventually consistent)."""
        with translated(f"Query {EXECUTION_INDEX} on {self.table_name}"):
            response = self.client.query(
                TableName=self.table_name,
                IndexName=EXECUTION_INDEX,
                KeyConditionExpression="execution_arn = :arn",
                ExpressionAttributeValues={":arn": {"S": execution_arn}},
                Limit=1,
            )
        items = response.get("Items", [])
        return str(items[0]["pk"]["S"]).removeprefix("monitor#") if items else None

    def history(self, monitor_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The monitor's latest `limit` history entries as plain values, newest last."""
        entries: list[dict[str, Any]] = []
        start_key: dict[str, AttributeValueTypeDef] | None = None
        while len(entries) < limit:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :history)",
                "ExpressionAttributeValues": {":pk": {"S": monitor_pk(monitor_id)}, ":history": {"S": HISTORY_PREFIX}},
                "ScanIndexForward": False,
                "Limit": limit - len(entries),
            }
            if start_key:
                kwargs["ExclusiveStartKey"] = start_key
            with translated(f"Query history on {self.table_name}"):
                response = self.client.query(**kwargs)
            entries.extend(self._history_from_item(item) for item in response.get("Items", []))
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                break
        return entries[::-1]

    @staticmethod
    def _history_from_item(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, Any]:
        plain = {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}
        plain["monitor_id"] = str(plain.pop("pk")).removeprefix("monitor#")
        plain.pop("sk", None)
        plain["extra"] = json.loads(plain.get("extra") or "{}")
        plain["kind"] = str(plain.get("kind") or _legacy_kind(str(plain.get("reason", ""))))
        return plain

    def scan_states(self) -> list[MonitorState]:
        """Every monitor's current state, sorted by id. A full scan: for the status and demo tools, not a tick."""
        states: list[MonitorState] = []
        with translated(f"Scan {self.table_name}"):
            for page in self.client.get_paginator("scan").paginate(
                TableName=self.table_name,
                FilterExpression="sk = :state",
                ExpressionAttributeValues={":state": {"S": STATE_SK}},
            ):
                states.extend(self._state_from_item(item) for item in page.get("Items", []))
        return sorted(states, key=lambda s: s.monitor_id)

    # -- writes ----------------------------------------------------------------------------------------------

    def commit(self, state: MonitorState, expected_version: int, history: HistoryEntry | None) -> MonitorState:
        """Write `state` as version expected_version + 1 iff the stored version is still expected_version, with its
        history entry in the same transaction. Raises StaleState if another writer moved the state first."""
        committed = state.model_copy(update={"version": expected_version + 1})
        put: PutTypeDef = {"TableName": self.table_name, "Item": self._state_item(committed)}
        if expected_version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        try:
            if history is None:
                # A lone conditional Put costs half a transaction's write units, with the same guarantee.
                self.client.put_item(**put)
            else:
                record: PutTypeDef = {
                    "TableName": self.table_name,
                    "Item": self._history_item(history, committed.version),
                }
                self.client.transact_write_items(TransactItems=[{"Put": put}, {"Put": record}])
        except ClientError as error:
            raise self._commit_error(error, state.monitor_id, expected_version) from error
        except BotoCoreError as error:
            raise translate_error(error, what=f"commit of {state.monitor_id}") from error
        return committed

    def _commit_error(self, error: ClientError, monitor_id: str, expected_version: int) -> Exception:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            return StaleState(monitor_id, expected_version)
        if code == "TransactionCanceledException":
            reasons = [str(r.get("Code", "None")) for r in error.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                return StaleState(monitor_id, expected_version)
            if any(is_retryable_code(r) or r == "ProvisionedThroughputExceeded" for r in reasons):
                return RetryableError(f"commit of {monitor_id} cancelled: {', '.join(reasons)}")
        return translate_error(error, what=f"commit of {monitor_id}")

    def _state_item(self, state: MonitorState) -> dict[str, AttributeValueTypeDef]:
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": monitor_pk(state.monitor_id)},
            "sk": {"S": STATE_SK},
            "version": {"N": str(state.version)},
            "status": {"S": state.status.value},
            "state": {"S": state.model_dump_json()},
            "updated_at": {"S": _iso_z(datetime.fromtimestamp(self._clock(), UTC))},
        }
        if state.episode is not None and state.episode.execution_arn:
            item["execution_arn"] = {"S": state.episode.execution_arn}
        if state.pending:
            item["pending_shard"] = {"S": PENDING_SHARD}
        return item

    def _history_item(self, entry: HistoryEntry, version: int) -> dict[str, AttributeValueTypeDef]:
        # TTL runs on the wall clock: `at` may be a simulated time years in the past.
        expires_at = int(self._clock()) + self.ttl_days * 86400
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": monitor_pk(entry.monitor_id)},
            "sk": {"S": history_sk(entry.at, version)},
            "at": {"S": _iso_z(entry.at)},
            "version": {"N": str(version)},
            "kind": {"S": entry.kind.value},
            "before": {"S": entry.before.value},
            "after": {"S": entry.after.value},
            "reason": {"S": entry.reason},
            "config_version": {"S": entry.config_version},
            "actions": {"L": [{"S": action} for action in entry.actions]},
            "extra": {"S": json.dumps(entry.extra, sort_keys=True, default=str)},
            "expires_at": {"N": str(expires_at)},
        }
        if entry.score is not None:
            item["score"] = {"N": repr(float(entry.score))}
        if entry.episode_id is not None:
            item["episode_id"] = {"S": entry.episode_id}
        return item


def _legacy_kind(reason: str) -> HistoryKind:
    """The kind of an entry written before entries carried one (they expire with the history's TTL): the outbox's
    entries were the ones whose reason listed the actions."""
    return HistoryKind.DELIVERY if reason.startswith("actions: ") else HistoryKind.TRANSITION
