"""The small interfaces the orchestration talks to. Adapters implement them with boto3; tests may use moto."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from retrain_trigger.config import Catalog, MonitorConfig
from retrain_trigger.errors import RetrainTriggerError
from retrain_trigger.model import HistoryKind, MonitorState, Observation, PipelineStatus, Status


class ConfigSource(Protocol):
    def load(self) -> Catalog: ...


class ScoreSource(Protocol):
    def latest(
        self, monitors: Sequence[MonitorConfig], now: datetime
    ) -> Mapping[str, Sequence[Observation] | RetrainTriggerError]:
        """For each monitor, its most recent `evaluation_periods` datapoints stamped at or before `now` (oldest
        first, times in UTC), or the error that made them unreadable: BadInput (names the monitor and the field)
        or RetryableError/DependencyError. Batched across monitors.

        Read "as of" `now`, the tick's time: a late or retried tick sees exactly what an on-time one saw, never a
        datapoint written after it. A datapoint stamped more than a few minutes ahead of the wall clock (a
        producer's broken clock) is BadInput on `timestamp`, as is one whose time is not UTC or cannot be read."""
        ...


@dataclass(frozen=True)
class HistoryEntry:
    """A transition, or the outbox's delivery results, as kept in the state table's history (with a TTL), under the
    version it commits."""

    monitor_id: str
    at: datetime
    before: Status
    after: Status
    reason: str
    config_version: str
    score: float | None = None
    episode_id: str | None = None
    actions: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    kind: HistoryKind = HistoryKind.TRANSITION

    def __post_init__(self) -> None:
        # A state's name read back from the table is a Status like any other: an unknown one is refused here.
        object.__setattr__(self, "before", Status(self.before))
        object.__setattr__(self, "after", Status(self.after))
        object.__setattr__(self, "kind", HistoryKind(self.kind))


class StateStore(Protocol):
    def get_many(self, monitor_ids: Sequence[str]) -> dict[str, MonitorState | RetrainTriggerError]:
        """Current states, batched; a monitor never written comes back as MonitorState(version=0), an unreadable
        item as its error. Raises RetryableError/DependencyError when the batch itself cannot be read."""
        ...

    def get(self, monitor_id: str) -> MonitorState:
        """One current state, strongly consistent; raises what get_many would put in its place."""
        ...

    def with_pending_actions(self) -> list[str]:
        """The monitors whose outbox has actions waiting (a sparse index: eventually consistent)."""
        ...

    def commit(self, state: MonitorState, expected_version: int, history: HistoryEntry | None) -> MonitorState:
        """Write `state` as version expected_version + 1 if the stored version is still expected_version
        (0: not stored yet), together with its history entry. Raises StaleState if it lost."""
        ...

    def find_by_execution(self, execution_arn: str) -> str | None:
        """The monitor whose retraining runs as this pipeline execution."""
        ...


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str
    payload: Mapping[str, Any]
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class QueueMessage:
    body: Mapping[str, Any]
    group_id: str
    deduplication_id: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class PipelineStart:
    pipeline_name: str
    parameters: Mapping[str, str]
    client_request_token: str
    display_name: str
    description: str


@dataclass(frozen=True)
class BusEvent:
    detail_type: str
    detail: Mapping[str, Any]
    resources: tuple[str, ...] = ()


class ActionGateway(Protocol):
    """Each call returns an id of what it created (message id, execution ARN, event id)."""

    def publish_alert(self, alert: Alert) -> str: ...

    def send_retrain_request(self, message: QueueMessage) -> str: ...

    def start_pipeline(self, start: PipelineStart) -> str: ...

    def put_event(self, event: BusEvent) -> str: ...

    def pipeline_status(self, execution_arn: str) -> PipelineStatus | None:
        """DescribePipelineExecution's status (None: one this version does not know)."""
        ...

    def find_pipeline_execution(self, pipeline_name: str, idempotency_key: str, not_before: datetime) -> str | None:
        """The ARN of the execution a start with this key created, if any (its description carries the key). Every
        execution created since `not_before` is searched, however many: the start was not made before it."""
        ...


@dataclass(frozen=True)
class Shard:
    """A part of one tick, for one invocation: the monitors to decide at `now`, and those not due whose outbox has
    actions waiting (each such monitor is in exactly one shard of the tick, so it is delivered once)."""

    now: datetime
    due: tuple[str, ...]
    waiting: tuple[str, ...] = ()


class ShardQueue(Protocol):
    def send(self, shards: Sequence[Shard]) -> None:
        """Queue every shard, or raise (RetryableError/DependencyError): a tick whose shards were not all sent fails,
        and its retry sends them again (a shard evaluated twice changes nothing)."""
        ...
