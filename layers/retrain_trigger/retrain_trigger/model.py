"""The domain's immutable values: what a monitor observed, the state it is in, and what it decided."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from retrain_trigger.config import ActionKind
from retrain_trigger.errors import BadInput
from retrain_trigger_drift.combine import top_features


class Status(StrEnum):
    OK = "OK"  # armed, below the warning level
    WARNING = "WARNING"  # armed, warning level breached: alerted once
    ALARM = "ALARM"  # episode open, critical, no retraining running (blocked, failed, or drift persists)
    RETRAINING = "RETRAINING"  # episode open, retraining started and not finished
    RETRAINED = "RETRAINED"  # episode open, retraining succeeded, waiting for the score to fall below reset
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # episode open, a retraining would start: waits for an operator (approval)


ARMED = frozenset({Status.OK, Status.WARNING})

NoticeEvent = Literal[
    "warning",  # warning level crossed
    "critical",  # critical breached but retraining blocked (guards, grace, cooldown, cap, mode)
    "retrain_started",  # the retraining actions
    "escalation",  # drift persists after a successful retraining
    "recovered",  # back to OK
    "retrain_failed",  # pipeline failed, stopped or timed out
    "no_data",  # the newest datapoint is older than no_data_after: once per gap
    "data_resumed",  # a datapoint newer than the gap arrived
    "approval_requested",  # a retraining would start and the monitor requires approval: how to approve or reject
    "approval_expired",  # nobody approved or rejected within approval_timeout: no retraining in this episode
]
Severity = Literal["warning", "critical", "recovered", "escalation", "error"]

SEVERITY: Mapping[str, Severity] = {
    "warning": "warning",
    "critical": "critical",
    "retrain_started": "critical",
    "escalation": "escalation",
    "recovered": "recovered",
    "retrain_failed": "error",
    "evaluation_error": "error",
    "no_data": "warning",
    "data_resumed": "recovered",
    "action_failed": "error",
    "action_unconfirmed": "error",
    "approval_requested": "critical",
    "approval_expired": "error",
}


@dataclass(frozen=True, slots=True)
class Observation:
    """One datapoint: the drift score at a time, with the guard metrics read at the same time."""

    at: datetime
    score: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    features: Mapping[str, float] = field(default_factory=dict)  # per-feature drift values (a monitor's `score`)
    critical_features: tuple[str, ...] = ()  # critical features above their threshold: each breaches on its own
    sample_count: float | None = None  # the rows the score was computed on, when its producer counted them

    @classmethod
    def checked(
        cls,
        monitor_id: str,
        at: datetime,
        score: object,
        metrics: Mapping[str, object] | None = None,
        score_field: str = "drift_score",
    ) -> Observation:
        """Build an Observation from untrusted values, naming the monitor and the field on failure. Its time is UTC."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise BadInput(monitor_id, "timestamp", f"{at.isoformat()} has no timezone")
        return cls(
            at=at.astimezone(UTC),
            score=_finite_number(monitor_id, score_field, score),
            metrics={name: _finite_number(monitor_id, name, value) for name, value in (metrics or {}).items()},
        )

    def top_features(self, n: int = 3) -> tuple[tuple[str, float], ...]:
        """The `n` largest feature values, largest first (ties by name): what the logs and alerts name."""
        return tuple(top_features(self.features, n))


@dataclass(frozen=True, slots=True)
class RefusedItem:
    """A score item a read skipped because it cannot be a datapoint: its key as stored (the timestamp text) and the
    BadInput naming the field."""

    key: str
    error: BadInput


class Datapoints(tuple[Observation, ...]):
    """A monitor's datapoints, oldest first, and the score items the read skipped (`refused`). A bad item is reported
    and never decided on; it does not hide the valid datapoints around it."""

    refused: tuple[RefusedItem, ...]

    def __new__(cls, observations: Iterable[Observation] = (), refused: Iterable[RefusedItem] = ()) -> Datapoints:
        read = super().__new__(cls, observations)
        read.refused = tuple(refused)
        return read


def _finite_number(monitor_id: str, field_name: str, value: object) -> float:
    # boto3's DynamoDB deserializer yields Decimal, CloudWatch float; a string or a bool is bad input.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadInput(monitor_id, field_name, f"not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(monitor_id, field_name, f"not a finite number: {number}")
    return number


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Notice(_Record):
    """What happened, for the alert text and the retraining request. Rendered only when an action runs."""

    event: NoticeEvent
    score: float | None = None
    datapoint_at: datetime | None = None
    reason: str = ""
    episode_id: str | None = None
    attempt: int = 0
    decided_at: datetime
    renotification: int = 0  # 0: the first alert of its kind; n: its n-th repetition (renotify_every)
    features: tuple[tuple[str, float], ...] = ()  # the datapoint's top drifting features, largest first

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.event]


# A cancelled action is named by the transition that cancels it (`Decision.cancelled`, the history's
# `cancelled:<kind>:<key>`) and kept with its status until the next transition, like a delivered one.
ActionStatus = Literal[
    "pending",  # committed, not yet delivered (or failed and waiting for its next try)
    "sending",  # a try was announced (`tried_by`): until its outcome is recorded, it is unknown whether it landed
    "done",  # delivered; `result` holds what AWS created
    "failed",  # gave up after its last try; alerted on its own
    "cancelled",  # never to be sent: its attempt ended first, or the monitor was switched to shadow mode
]


class ActionRecord(_Record):
    """One outbox entry: a side effect of a committed transition. Its key is derived from the episode and never
    changes; its status, attempts and result are committed as soon as each try's outcome is known."""

    kind: ActionKind
    key: str
    notice: Notice
    status: ActionStatus = "pending"
    attempts: int = 0
    next_try_at: datetime | None = None  # evaluation time: not before this (back-off after a failed try)
    tried_by: str | None = None  # the invocation that announced the try in flight ("sending")
    last_error: str | None = None
    result: str | None = None  # message id, execution ARN, event id


ApprovalStatus = Literal["requested", "approved", "rejected", "expired"]


class Episode(_Record):
    """One drift episode: from the datapoint that breached critical until the score falls below reset."""

    id: str
    opened_at: datetime
    trigger_score: float | None  # None when only missing data (counted as breaching) breached
    retrains: int = 0  # retraining attempts decided in this episode; the running one is number `retrains`
    retrain_requested_at: datetime | None = None  # when the attempt was decided
    retrain_started_at: datetime | None = None  # when its start action was delivered (the timeout counts from here)
    execution_arn: str | None = None
    last_attempt_failed: bool = False
    retry_not_before: datetime | None = None
    escalated: bool = False
    announced: bool = True  # an alert about it was really sent (False while it opened muted and stayed unsent)
    notified_at: datetime | None = None  # when its last alert was decided (sent or suppressed): renotify_every
    renotified: int = 0  # repetitions of its last alert so far
    # Opened in shadow mode (its retrainings were only logged), recorded when it opens: whether an episode is real
    # belongs to it, not to the mode of each later transition. None: stored before this was recorded.
    shadow: bool | None = None
    # Approval (policy/approval.py): what the operator said about attempt `approval_attempt` of this episode.
    approval: ApprovalStatus | None = None
    approval_attempt: int = 0
    approval_requested_at: datetime | None = None
    # Acknowledged: no repeated alert while the state stays `acknowledged_in` and no newer alert went out.
    acknowledged_at: datetime | None = None
    acknowledged_in: Status | None = None


class MonitorState(_Record):
    """The committed state of one monitor. `version` 0 means it was never written."""

    monitor_id: str
    status: Status = Status.OK
    version: int = 0
    episode: Episode | None = None
    grace_until: datetime | None = None
    last_retrain_at: datetime | None = None
    last_score: float | None = None
    last_datapoint_at: datetime | None = None
    actions: tuple[ActionRecord, ...] = ()
    lease_owner: str | None = None
    lease_until: datetime | None = None
    config_version: str | None = None
    updated_at: datetime | None = None
    gap_since: datetime | None = None  # an announced no-data gap: the newest datapoint's time when it was announced
    evidence_after: datetime | None = None  # when the last retraining completed: older datapoints are no evidence
    shadow: bool = False  # holds shadow mode's decisions (a shadow episode, or none open): active starts armed
    # The evaluation time of the last committed evaluation. A tick older than it is stale: it changes nothing.
    # Written only with a transition (never on a steady tick); absent in a state stored before it existed.
    decided_at: datetime | None = None
    refused_items: tuple[str, ...] = ()  # keys of the bad score items already reported: never reported again
    # When the model in service was made: its last successful retraining or "Model Deployed" (or, before either was
    # seen, the first evaluation with `max_model_age`): the model's age counts from here (policy/model_age.py).
    model_at: datetime | None = None

    @property
    def pending(self) -> tuple[ActionRecord, ...]:
        """The actions still to deliver, a try in flight included."""
        return tuple(a for a in self.actions if a.status in ("pending", "sending"))


def ranked(features: Iterable[tuple[str, float]]) -> list[dict[str, object]]:
    """Top features as logs, history items and alert payloads carry them: a list, so JSON keeps the ranking."""
    return [{"feature": name, "value": value} for name, value in features]


def episode_id(monitor_id: str, datapoint_at: datetime) -> str:
    """Derived from the monitor and the triggering datapoint, so every retry derives the same id. The time is UTC."""
    if datapoint_at.tzinfo is None or datapoint_at.utcoffset() is None:
        raise ValueError(f"episode ids are derived from aware times, not {datapoint_at.isoformat()}")
    return f"{monitor_id}@{datapoint_at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def idempotency_key(episode: str, attempt: int, event: str) -> str:
    return f"{episode}#{attempt}:{event}"


def token(key: str, length: int = 64) -> str:
    """An opaque, fixed-length form of a key, for APIs that limit characters (ClientRequestToken, dedup ids)."""
    return hashlib.sha256(key.encode()).hexdigest()[:length]


Outcome = Literal[
    "transition",  # the status or the episode changed: committed, history written
    "unchanged",  # evaluated, nothing to commit
    "insufficient_data",  # missing_data=missing and no fresh datapoint: state kept, reported
    "ignored_missing",  # missing_data=ignore and no fresh datapoint: state kept
    "ignored",  # a lifecycle event that belongs to no running attempt of ours: state kept
    "stale",  # a tick older than the last committed evaluation (a retry, a redelivered shard): state kept
]


@dataclass(frozen=True)
class Decision:
    """The engine's answer for one monitor at one time. `state` is what to commit if `changed`."""

    monitor_id: str
    at: datetime
    outcome: Outcome
    before: MonitorState
    state: MonitorState
    reason: str
    score: float | None = None
    datapoint_at: datetime | None = None
    breaches: int = 0
    periods: int = 0  # N of M-of-N: the datapoints an evaluation reads (0: a lifecycle event, none read)
    guards: Mapping[str, bool] = field(default_factory=dict)
    thresholds: Mapping[str, float | None] = field(default_factory=dict)
    new_actions: tuple[ActionRecord, ...] = ()
    suppressed: tuple[str, ...] = ()  # actions shadow/muted mode did not send
    cancelled: tuple[ActionRecord, ...] = ()  # pending actions of an attempt that ended: they never run
    features: tuple[tuple[str, float], ...] = ()  # the reported datapoint's top drifting features, largest first

    @property
    def changed(self) -> bool:
        return self.state != self.before

    def as_log(self) -> dict[str, object]:
        return {
            "monitor_id": self.monitor_id,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "state_before": self.before.status.value,
            "state_after": self.state.status.value,
            "score": self.score,
            "datapoint_at": self.datapoint_at.isoformat() if self.datapoint_at else None,
            "breaches": f"{self.breaches}/{self.periods}",
            "guards": dict(self.guards),
            "thresholds": dict(self.thresholds),
            "config_version": self.state.config_version,
            "episode_id": self.state.episode.id if self.state.episode else None,
            "actions": [f"{a.kind}:{a.notice.event}" for a in self.new_actions],
            "suppressed": list(self.suppressed),
            "cancelled": [f"{a.kind}:{a.key}" for a in self.cancelled],
            "reason": self.reason,
        } | ({"top_features": ranked(self.features)} if self.features else {})


LifecycleKind = Literal["executing", "succeeded", "failed", "stopped", "deployed"]


class PipelineStatus(StrEnum):
    """A pipeline execution's status, as SageMaker (status change events, DescribePipelineExecution) and a CI's
    `Retraining Finished` event spell it."""

    EXECUTING = "Executing"
    STOPPING = "Stopping"  # Stopped follows: nothing to do yet
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    @classmethod
    def read(cls, text: object) -> PipelineStatus | None:
        """The status `text` names; None for none, or for one this version does not know (it is not final)."""
        return cls(text) if isinstance(text, str) and text in cls._value2member_map_ else None

    @property
    def final(self) -> bool:
        return self in _FINAL

    @property
    def lifecycle(self) -> LifecycleKind | None:
        """What the status means for the running attempt; None while it is stopping."""
        return _LIFECYCLE[self]


_FINAL = frozenset({PipelineStatus.SUCCEEDED, PipelineStatus.FAILED, PipelineStatus.STOPPED})
_LIFECYCLE: Mapping[PipelineStatus, LifecycleKind | None] = {
    PipelineStatus.EXECUTING: "executing",
    PipelineStatus.STOPPING: None,
    PipelineStatus.STOPPED: "stopped",
    PipelineStatus.FAILED: "failed",
    PipelineStatus.SUCCEEDED: "succeeded",
}


class HistoryKind(StrEnum):
    """What a history entry records."""

    TRANSITION = "transition"  # a committed decision: the states before and after, why, what it queued
    DELIVERY = "delivery"  # the outbox's results for the actions a transition queued (its state is unchanged)


class LifecycleEvent(_Record):
    """A retraining's progress or a deployment, normalised from SageMaker's or the project bus's event."""

    kind: LifecycleKind
    at: datetime
    monitor_id: str | None = None
    execution_arn: str | None = None
    episode_id: str | None = None
    attempt: int | None = None  # the retraining attempt the event reports on (None: not stated)
    detail: str = ""


CommandKind = Literal["acknowledge", "approve", "reject"]


class OperatorCommand(_Record):
    """An operator's word on a monitor's open episode: from the CLI, or an event on the project bus."""

    kind: CommandKind
    monitor_id: str
    at: datetime
    episode_id: str | None = None  # required to approve or reject; acknowledging without one means the open episode
    by: str = ""  # who (a user name, a chat handle): recorded in the reason
