"""The action outbox: every side effect of a committed decision, delivered exactly once per key, never silently.

Each action is its own record in the monitor's state (kind, key, status, attempts, next try, result). Delivery:

- runs only under the monitor's lease, taken by a conditional write when the lease is free, expired or ours;
- takes the actions in their committed order; an action waits while an earlier action of the same notice (same
  key) is still pending, so an alert never announces a pipeline that did not start. Other notices do not wait;
- announces each try before making it (status `sending`, in the same write as the previous result, so it costs
  no extra write) and commits its outcome as soon as it is known. A try found announced by another invocation
  has an unknown outcome: a pipeline start is looked up by its key (and made only if it is not found); any
  other action is recorded as `unconfirmed`, alerted (severity `error`, naming it and its key) and never repeated,
  so our own logic never sends anything twice; an unconfirmed start is no evidence that a retraining started;
- on a failed try, backs off and alerts; after `max_attempts` tries the action is `failed`, alerted on its own
  (never queued behind it), and if it was the start of a retraining, that attempt is declared failed. A start
  that failed for want of AWS (throttled, 5xx, timed out: `RetryableError`) is an outage, not a failed
  retraining: it is retried at a back-off capped at `max_backoff` until it goes through, alerted at every try,
  and never spends the attempt;
- answers to the monitor's current mode: muted, it holds every action (untried) until the mute ends; in shadow
  mode it cancels them (status `cancelled`, named in the history). A start notice whose attempt ended before it
  went out is cancelled the same way; a start found never made for such an attempt is not made.

The pure functions here decide; `courier.Courier` is the loop that talks to the ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from retrain_trigger.config import ActionKind, MonitorConfig
from retrain_trigger.model import ActionRecord, MonitorState, Status

# What starts a retraining, by preference: the pipeline, else the request for whatever consumes the queue or bus.
START_KINDS: tuple[ActionKind, ...] = ("sagemaker", "sqs", "eventbridge")

DeliveryStatus = Literal["done", "retry", "failed", "unconfirmed", "lease_held", "held", "cancelled"]
UNCONFIRMED = "unconfirmed"  # the result of a try whose outcome nobody recorded (see `Courier._reconcile`)
# How much earlier than its decision (the tick's time) a start may have been made: a tick runs at most 15 minutes
# ahead of the clock (service.MAX_TICK_AHEAD); the rest is room for the clocks of Lambda and SageMaker to differ.
START_LOOKUP_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class RetryPolicy:
    """How often one action is tried, and how long it waits between tries (doubling, capped)."""

    max_attempts: int = 3
    backoff: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(hours=1)

    def next_try(self, attempts: int, now: datetime) -> datetime:
        # A start in an outage is tried without end: the doubling must stop before timedelta overflows.
        return now + min(self.backoff * (1 << min(max(attempts - 1, 0), 32)), self.max_backoff)


@dataclass(frozen=True)
class Delivered:
    """What one delivery step of one action did, for the report, the log line and the metrics."""

    kind: ActionKind
    key: str
    status: DeliveryStatus
    result: str | None = None
    error: str | None = None
    attempts: int = 0

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "key": self.key, "status": self.status}
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        if self.attempts:
            out["attempts"] = self.attempts
        return out


@dataclass(frozen=True)
class LeaseLost:
    """The monitor's state moved under this invocation while it delivered: another one delivers from here."""

    monitor_id: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": "state", "key": self.monitor_id, "status": "lease_lost"}


# -- pure rules ----------------------------------------------------------------------------------------------------


def same(a: ActionRecord, b: ActionRecord) -> bool:
    """One outbox entry, whatever its status: a key names a notice, and a notice has one action of each kind."""
    return a.kind == b.kind and a.key == b.key


def holds(monitor: MonitorConfig, now: datetime) -> bool:
    """Muted at `now`: the outbox keeps every action, untried, until the mute ends (shadow mode cancels them)."""
    return monitor.mode != "shadow" and not monitor.acting_at(now)


def next_ready(state: MonitorState, now: datetime) -> ActionRecord | None:
    """The first action that may run at evaluation time `now`: pending, past its back-off, and the first of its
    notice still pending. Back-off counts in evaluation time, so a retried delivery of the same tick waits."""
    waiting_keys: set[str] = set()
    for action in state.pending:
        if action.key in waiting_keys:
            continue
        waiting_keys.add(action.key)
        # A try is announced only once ready, so a `sending` one waits only after a failed lookup of its outcome.
        if action.next_try_at is None or action.next_try_at <= now:
            return action
    return None


def announced(state: MonitorState, action: ActionRecord, owner: str) -> MonitorState:
    """The try about to be made, written down first: if its outcome is never recorded, the next deliverer knows.
    A cancelled action is never tried again (a concurrent transition may have cancelled it meanwhile)."""
    if action.status == "cancelled":
        return state
    return with_record(state, action.model_copy(update={"status": "sending", "tried_by": owner}))


def announce_next(state: MonitorState, now: datetime, owner: str) -> MonitorState:
    """`state` with its next ready action announced by `owner` (unchanged if none is ready, or it already is)."""
    action = next_ready(state, now)
    return announced(state, action, owner) if action is not None and action.status == "pending" else state


def is_start(action: ActionRecord, state: MonitorState) -> bool:
    """True for the action whose delivery means the retraining attempt really started."""
    if action.notice.event != "retrain_started":
        return False
    kinds = {a.kind for a in state.actions if a.key == action.key}
    first = next((kind for kind in START_KINDS if kind in kinds), None)
    return action.kind == (first or action.kind)


def with_record(state: MonitorState, record: ActionRecord) -> MonitorState:
    """`state` with the entry `record` stands for replaced by it (a no-op if that entry is gone)."""
    return state.model_copy(update={"actions": tuple(record if same(a, record) else a for a in state.actions)})


def _done(action: ActionRecord, result: str) -> ActionRecord:
    update: dict[str, object] = {"status": "done", "attempts": action.attempts + 1, "result": result}
    return action.model_copy(update=update | {"next_try_at": None, "tried_by": None})


def unconfirmed(state: MonitorState, action: ActionRecord) -> MonitorState:
    """Record a try whose outcome nobody recorded as `done` with the result `unconfirmed`: never repeated, and never
    evidence that a retraining started (its timeout then counts from the decision, see `retraining_overdue`)."""
    return with_record(state, _done(action, UNCONFIRMED))


def delivered(state: MonitorState, action: ActionRecord, result: str, now: datetime) -> MonitorState:
    """Record a delivery. The start of the running attempt also stamps the episode: the retraining timeout counts
    from `now` (the evaluation time), and a pipeline's execution ARN is what its status events are matched by."""
    updated = with_record(state, _done(action, result))
    episode = updated.episode
    if (
        is_start(action, state)
        and updated.status is Status.RETRAINING  # a start resolved after its attempt ended stamps nothing
        and episode is not None
        and action.notice.episode_id == episode.id
        and action.notice.attempt == episode.retrains
    ):
        stamp: dict[str, object] = {"retrain_started_at": episode.retrain_started_at or now}
        if action.kind == "sagemaker":
            stamp["execution_arn"] = episode.execution_arn or result
        updated = updated.model_copy(update={"episode": episode.model_copy(update=stamp)})
    return updated


def failed_try(
    state: MonitorState,
    action: ActionRecord,
    error: str,
    now: datetime,
    retry: RetryPolicy,
    outage: bool = False,
    unknown: bool = False,
) -> tuple[MonitorState, ActionRecord]:
    """Record a failed try: back off, or give up (`failed`) after the last allowed attempt; in an `outage` never
    give up (the back-off stays capped at `retry.max_backoff`). `unknown`: the try was the lookup of an earlier try's
    unrecorded outcome, which stays unknown (`sending`, as announced): the next try looks it up again rather than
    make it."""
    attempts = action.attempts + 1
    gave_up = attempts >= retry.max_attempts and not outage
    # unknown: the try stays as announced (its status and claim unchanged), so the next try looks it up again
    retried: dict[str, object] = {} if unknown else {"status": "pending", "tried_by": None}
    record = action.model_copy(
        update={
            "attempts": attempts,
            "last_error": error[:500],
            "next_try_at": None if gave_up else retry.next_try(attempts, now),
        }
        | ({"status": "failed", "tried_by": None} if gave_up else retried)
    )
    return with_record(state, record), record


def leased(state: MonitorState, owner: str, wall: datetime, lease: timedelta) -> MonitorState | None:
    """`state` with this invocation as the lease holder, or None while another invocation holds an unexpired lease."""
    if state.lease_owner not in (None, owner) and state.lease_until is not None and state.lease_until > wall:
        return None
    return state.model_copy(update={"lease_owner": owner, "lease_until": wall + lease})


def released(state: MonitorState) -> MonitorState:
    return state.model_copy(update={"lease_owner": None, "lease_until": None})
