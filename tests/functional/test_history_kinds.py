"""A history entry says what it records (a transition, or the outbox's delivery results) in its own attribute, on
moto with the table from template.yaml; an entry written before entries carried it is still read correctly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from retrain_trigger.adapters.state_table import DynamoDBStateStore
from retrain_trigger.model import HistoryKind, MonitorState, Status
from retrain_trigger.ports import HistoryEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AT = datetime(2024, 8, 9, tzinfo=UTC)


@pytest.fixture
def store(ddb: DynamoDBClient, state_table: str) -> DynamoDBStateStore:
    return DynamoDBStateStore(state_table, client=ddb, clock=lambda: 1_750_000_000.0)


def test_a_delivery_entry_is_stored_and_read_back_as_a_delivery(store: DynamoDBStateStore, ddb: DynamoDBClient) -> None:
    state = store.commit(
        MonitorState(monitor_id="churn", status=Status.RETRAINING),
        0,
        HistoryEntry("churn", AT, Status.OK, Status.RETRAINING, "drift 0.31 > 0.2: retraining started", "v1"),
    )
    store.commit(
        state,
        state.version,
        HistoryEntry(
            "churn",
            AT,
            Status.RETRAINING,
            Status.RETRAINING,
            "actions: sns done",
            "v1",
            actions=("sns:done:msg-1",),
            kind=HistoryKind.DELIVERY,
        ),
    )

    items = ddb.scan(TableName=store.table_name)["Items"]
    stored = sorted((i["version"]["N"], i["kind"]["S"], i["before"]["S"]) for i in items if "kind" in i)
    assert stored == [("1", "transition", "OK"), ("2", "delivery", "RETRAINING")]
    assert [(h["kind"], h["before"], h["after"]) for h in store.history("churn")] == [
        ("transition", "OK", "RETRAINING"),
        ("delivery", "RETRAINING", "RETRAINING"),
    ]


def test_an_entry_written_before_entries_had_a_kind_is_read_by_what_its_reason_lists(
    store: DynamoDBStateStore, ddb: DynamoDBClient
) -> None:
    for version, reason in ((1, "drift 0.31 > 0.2: retraining started"), (2, "actions: sagemaker done, sns done")):
        ddb.put_item(
            TableName=store.table_name,
            Item={
                "pk": {"S": "monitor#churn"},
                "sk": {"S": f"history#2024-08-09T00:00:00Z#{version:010d}"},
                "at": {"S": "2024-08-09T00:00:00Z"},
                "version": {"N": str(version)},
                "before": {"S": "OK"},
                "after": {"S": "RETRAINING"},
                "reason": {"S": reason},
                "config_version": {"S": "v1"},
                "actions": {"L": []},
                "extra": {"S": "{}"},
                "expires_at": {"N": "1757776000"},
            },
        )

    assert [h["kind"] for h in store.history("churn")] == ["transition", "delivery"]
