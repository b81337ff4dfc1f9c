"""The state table adapter on moto, with the table built from template.yaml: versions, conflicts, history, index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from retrain_trigger.adapters.state_table import DynamoDBStateStore
from retrain_trigger.errors import DependencyError, RetryableError, StaleState
from retrain_trigger.model import Episode, MonitorState, Status
from retrain_trigger.ports import HistoryEntry
from tests.support.resources import REGION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.functional.conftest import RecordCalls

WALL_CLOCK = 1_750_000_000.0  # the machine's time; the history's `at` below is a simulated one
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn/execution/abc123"


def at(day: int) -> datetime:
    return datetime(2024, 8, day, tzinfo=UTC)


def entry(monitor_id: str, day: int, before: str = "OK", after: str = "ALARM") -> HistoryEntry:
    return HistoryEntry(
        monitor_id=monitor_id,
        at=at(day),
        before=before,
        after=after,
        reason="score 0.31 > critical 0.2",
        config_version="sha256:abc",
        score=0.31,
        episode_id=f"{monitor_id}@202408{day:02d}T000000Z",
        actions=("sagemaker:retrain_started", "sns:retrain_started"),
        extra={"breaches": "1/1"},
    )


def retraining(monitor_id: str, execution_arn: str | None = ARN) -> MonitorState:
    episode = Episode(id=f"{monitor_id}@20240809T000000Z", opened_at=at(9), trigger_score=0.31, retrains=1)
    return MonitorState(
        monitor_id=monitor_id,
        status=Status.RETRAINING,
        episode=episode.model_copy(update={"execution_arn": execution_arn}),
        last_score=0.31,
        last_datapoint_at=at(9),
    )


@pytest.fixture
def store(ddb: DynamoDBClient, state_table: str) -> DynamoDBStateStore:
    return DynamoDBStateStore(state_table, client=ddb, clock=lambda: WALL_CLOCK)


def offline_client() -> DynamoDBClient:
    """A client that never reaches moto or AWS: for faults injected with Stubber or an event hook."""
    return boto3.client("dynamodb", region_name=REGION, config=Config(retries={"max_attempts": 1}))


# -- reading ---------------------------------------------------------------------------------------------------


def test_a_monitor_never_written_reads_as_version_zero(store: DynamoDBStateStore) -> None:
    assert store.get_many(["churn"]) == {"churn": MonitorState(monitor_id="churn", version=0)}


def test_a_committed_state_reads_back_whole_at_the_new_version(store: DynamoDBStateStore) -> None:
    state = retraining("churn")

    committed = store.commit(state, expected_version=0, history=entry("churn", 9))

    assert committed == state.model_copy(update={"version": 1})
    assert store.get_many(["churn"])["churn"] == committed


def test_get_many_reads_more_than_100_monitors_in_batches_of_100(
    store: DynamoDBStateStore, ddb: DynamoDBClient, record_calls: RecordCalls
) -> None:
    written = [f"m{i:03d}" for i in range(150)]
    for monitor_id in written:
        store.commit(MonitorState(monitor_id=monitor_id, last_score=0.1), expected_version=0, history=None)
    calls = record_calls(ddb, "BatchGetItem")

    states = store.get_many([*written, *(f"new{i}" for i in range(60))])

    assert [len(call["RequestItems"][store.table_name]["Keys"]) for call in calls] == [100, 100, 10]
    assert all(call["RequestItems"][store.table_name]["ConsistentRead"] for call in calls)
    assert len(states) == 210
    assert {states[m].version for m in written} == {1}
    assert {states[f"new{i}"].version for i in range(60)} == {0}


def test_unprocessed_keys_are_requested_again_after_a_backoff(ddb: DynamoDBClient, state_table: str) -> None:
    writer = DynamoDBStateStore(state_table, client=ddb)
    for monitor_id in ("a", "b"):
        writer.commit(MonitorState(monitor_id=monitor_id), expected_version=0, history=None)
    items = ddb.scan(TableName=state_table)["Items"]
    by_pk = {item["pk"]["S"]: item for item in items}
    client = offline_client()
    sleeps: list[float] = []
    store = DynamoDBStateStore(state_table, client=client, sleep=sleeps.append)
    b_key = {"pk": {"S": "monitor#b"}, "sk": {"S": "state"}}
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_item",
            {
                "Responses": {state_table: [by_pk["monitor#a"]]},
                "UnprocessedKeys": {state_table: {"Keys": [b_key], "ConsistentRead": True}},
            },
        )
        stub.add_response(
            "batch_get_item",
            {"Responses": {state_table: [by_pk["monitor#b"]]}},
            expected_params={"RequestItems": {state_table: {"Keys": [b_key], "ConsistentRead": True}}},
        )

        states = store.get_many(["a", "b"])

        stub.assert_no_pending_responses()
    assert {m: s.version for m, s in states.items()} == {"a": 1, "b": 1}
    assert len(sleeps) == 1


def test_keys_still_unprocessed_after_the_backoff_are_a_retryable_error(state_table: str) -> None:
    client = offline_client()
    store = DynamoDBStateStore(state_table, client=client, sleep=lambda _: None)
    key = {"pk": {"S": "monitor#a"}, "sk": {"S": "state"}}
    with Stubber(client) as stub:
        for _ in range(10):
            stub.add_response("batch_get_item", {"Responses": {}, "UnprocessedKeys": {state_table: {"Keys": [key]}}})

        with pytest.raises(RetryableError, match="unprocessed"):
            store.get_many(["a"])


def test_throttled_batch_get_is_a_retryable_error(state_table: str) -> None:
    client = offline_client()
    store = DynamoDBStateStore(state_table, client=client)
    with Stubber(client) as stub:
        stub.add_client_error("batch_get_item", "ProvisionedThroughputExceededException", http_status_code=400)

        with pytest.raises(RetryableError, match="ProvisionedThroughputExceededException"):
            store.get_many(["a"])


def test_a_read_timeout_is_a_retryable_error(state_table: str) -> None:
    client = offline_client()

    def time_out(request: Any, **_: Any) -> None:
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send.dynamodb.BatchGetItem", time_out)

    with pytest.raises(RetryableError, match="ReadTimeoutError"):
        DynamoDBStateStore(state_table, client=client).get_many(["a"])


def test_a_missing_table_is_a_dependency_error(ddb: DynamoDBClient) -> None:
    with pytest.raises(DependencyError, match="ResourceNotFoundException"):
        DynamoDBStateStore("no-such-table", client=ddb).get_many(["a"])


# -- conditional writes ----------------------------------------------------------------------------------------


def test_commit_loses_to_a_concurrent_writer_with_stale_state(store: DynamoDBStateStore) -> None:
    store.commit(MonitorState(monitor_id="churn"), expected_version=0, history=None)
    first, second = store.get_many(["churn"])["churn"], store.get_many(["churn"])["churn"]
    store.commit(first.model_copy(update={"status": Status.WARNING}), expected_version=first.version, history=None)

    with pytest.raises(StaleState) as lost:
        store.commit(second.model_copy(update={"status": Status.ALARM}), expected_version=second.version, history=None)

    assert (lost.value.monitor_id, lost.value.expected_version) == ("churn", 1)
    assert store.get_many(["churn"])["churn"].status is Status.WARNING


def test_a_monitor_created_twice_loses_the_second_time(store: DynamoDBStateStore) -> None:
    store.commit(MonitorState(monitor_id="churn", last_score=0.1), expected_version=0, history=entry("churn", 8))

    with pytest.raises(StaleState):
        store.commit(MonitorState(monitor_id="churn", last_score=0.9), expected_version=0, history=entry("churn", 9))

    assert store.get_many(["churn"])["churn"].last_score == 0.1


def test_a_lost_commit_writes_no_history(store: DynamoDBStateStore) -> None:
    store.commit(MonitorState(monitor_id="churn"), expected_version=0, history=entry("churn", 8))

    with pytest.raises(StaleState):
        store.commit(retraining("churn"), expected_version=5, history=entry("churn", 9))

    assert [h["at"] for h in store.history("churn")] == ["2024-08-08T00:00:00Z"]


def test_a_throttled_transaction_is_retryable_not_stale(state_table: str) -> None:
    client = offline_client()
    store = DynamoDBStateStore(state_table, client=client)
    with Stubber(client) as stub:
        stub.add_client_error(
            "transact_write_items",
            "TransactionCanceledException",
            modeled_fields={"CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]},
        )

        with pytest.raises(RetryableError, match="ThrottlingError"):
            store.commit(MonitorState(monitor_id="churn"), expected_version=0, history=entry("churn", 9))


# -- history ---------------------------------------------------------------------------------------------------


def test_history_entry_is_written_with_the_transition_and_a_wall_clock_ttl(
    store: DynamoDBStateStore, ddb: DynamoDBClient, state_table: str
) -> None:
    store.commit(retraining("churn"), expected_version=0, history=entry("churn", 9))

    (written,) = store.history("churn")

    assert written == {
        "monitor_id": "churn",
        "at": "2024-08-09T00:00:00Z",
        "kind": "transition",
        "version": 1,
        "before": "OK",
        "after": "ALARM",
        "reason": "score 0.31 > critical 0.2",
        "config_version": "sha256:abc",
        "score": 0.31,
        "episode_id": "churn@20240809T000000Z",
        "actions": ["sagemaker:retrain_started", "sns:retrain_started"],
        "extra": {"breaches": "1/1"},
        "expires_at": int(WALL_CLOCK) + 90 * 86400,
    }
    ttl = ddb.describe_time_to_live(TableName=state_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"  # the attribute written above is the one the table expires on


def test_history_keys_sort_by_time_then_version(store: DynamoDBStateStore, ddb: DynamoDBClient) -> None:
    store.commit(MonitorState(monitor_id="churn"), expected_version=0, history=entry("churn", 9))

    keys = [item["sk"]["S"] for item in ddb.scan(TableName=store.table_name)["Items"]]

    assert sorted(keys) == ["history#2024-08-09T00:00:00Z#0000000001", "state"]


def test_history_returns_the_newest_entries_oldest_first(store: DynamoDBStateStore) -> None:
    state = store.commit(MonitorState(monitor_id="churn"), expected_version=0, history=entry("churn", 1))
    for day in (2, 3, 4):
        state = store.commit(state, expected_version=state.version, history=entry("churn", day))

    assert [h["at"][:10] for h in store.history("churn", limit=2)] == ["2024-08-03", "2024-08-04"]
    assert [h["version"] for h in store.history("churn")] == [1, 2, 3, 4]


# -- the ByExecution index and the tools' scan -------------------------------------------------------------------


def test_find_by_execution_names_the_monitor_running_that_pipeline(store: DynamoDBStateStore) -> None:
    store.commit(retraining("churn"), expected_version=0, history=None)
    store.commit(retraining("fraud", execution_arn=None), expected_version=0, history=None)

    assert store.find_by_execution(ARN) == "churn"
    assert store.find_by_execution(ARN.replace("abc123", "other")) is None


def test_a_finished_retraining_leaves_the_execution_index(store: DynamoDBStateStore) -> None:
    running = store.commit(retraining("churn"), expected_version=0, history=None)

    store.commit(MonitorState(monitor_id="churn", status=Status.OK), expected_version=running.version, history=None)

    assert store.find_by_execution(ARN) is None


def test_scan_states_lists_every_monitor_and_no_history(store: DynamoDBStateStore) -> None:
    store.commit(retraining("fraud"), expected_version=0, history=entry("fraud", 9))
    store.commit(MonitorState(monitor_id="churn"), expected_version=0, history=entry("churn", 9))

    assert [(s.monitor_id, s.status, s.version) for s in store.scan_states()] == [
        ("churn", Status.OK, 1),
        ("fraud", Status.RETRAINING, 1),
    ]
