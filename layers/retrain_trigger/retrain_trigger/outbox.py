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

The pure functions below decide; `deliver` is the loop that talks to the ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from retrain_trigger import messages
from retrain_trigger.config import ActionKind, MonitorConfig
from retrain_trigger.errors import RetrainTriggerError, RetryableError, StaleState
from retrain_trigger.model import ActionRecord, Decision, HistoryKind, MonitorState, Status
from retrain_trigger.policy import attempt_ended, on_cancelled, on_start_given_up
from retrain_trigger.ports import ActionGateway, Alert, HistoryEntry, StateStore

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
    retried: dict[str, object] = {"status": "pending", "tried_by": None}
    if unknown:
        retried = {"status": action.status, "tried_by": action.tried_by}
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


# -- the delivery loop ---------------------------------------------------------------------------------------------


@dataclass
class Courier:
    """Delivers one monitor's outbox through the ports. Only the evaluator runs it."""

    monitor: MonitorConfig
    states: StateStore
    gateway: ActionGateway
    owner: str
    wall_clock: Callable[[], datetime]
    lease: timedelta
    retry: RetryPolicy
    now: datetime  # the evaluation time: stamps a retraining's start
    config_version: str
    log: list[Delivered | LeaseLost] = field(default_factory=list)
    transitions: list[Decision] = field(default_factory=list)  # decisions the outbox itself caused

    def deliver(self, state: MonitorState) -> MonitorState:
        """Run every action that is ready; returns the last committed state."""
        if holds(self.monitor, self.now):
            self.log.extend(Delivered(a.kind, a.key, "held") for a in state.pending)
            return state
        unsent = tuple(a for a in state.pending if a.status == "pending")
        if self.monitor.mode == "shadow" and unsent:
            why = f"shadow mode: {len(unsent)} pending actions cancelled, never sent"
            cancelled = self._cancel(state, unsent, why)
            if cancelled is None:
                return state
            state = cancelled
        if next_ready(state, self.now) is None:
            return state
        if state.lease_owner != self.owner or (state.lease_until and state.lease_until <= self.wall_clock()):
            taken = leased(state, self.owner, self.wall_clock(), self.lease)
            if taken is None:
                self.log.extend(Delivered(a.kind, a.key, "lease_held") for a in state.pending)
                return state
            written = announce_next(taken, self.now, self.owner)
            try:
                state = self.states.commit(written, state.version, None)
            except StaleState:
                fresh = self.states.get(self.monitor.id)
                if _content(fresh) != _content(written):
                    return state  # another invocation moved the state first: it delivers
                state = fresh  # our own takeover, whose answer was lost: the lease and the announced try are ours
        while state.lease_owner == self.owner and (action := next_ready(state, self.now)) is not None:
            if action.status == "pending":  # not announced yet (a transition queued it after our last write)
                committed = self._commit(state, lambda fresh: announced(fresh, _current(fresh, action), self.owner))
            elif action.tried_by != self.owner:  # announced by an invocation that never recorded the outcome
                committed = self._reconcile(state, action)
            else:
                committed = self._deliver_one(state, action)
            if committed is None:
                return state
            state = committed
        return self._release(state)

    def _deliver_one(self, state: MonitorState, action: ActionRecord) -> MonitorState | None:
        try:
            result = perform(self.monitor, state, action, self.config_version, self.gateway)
        except RetrainTriggerError as error:
            # A start that never reached AWS ran no pipeline: an outage, retried without spending the attempt.
            outage = isinstance(error, RetryableError) and is_start(action, state)
            return self._failed(state, action, str(error), outage)
        self.log.append(Delivered(action.kind, action.key, "done", result=result, attempts=action.attempts + 1))
        return self._commit(state, lambda fresh: delivered(fresh, _current(fresh, action), result, self.now))

    def _reconcile(self, state: MonitorState, action: ActionRecord) -> MonitorState | None:
        """A try of `action` was announced but its outcome never recorded (a crash, a write that failed after the
        call). A pipeline start can be looked up by its key; anything else is taken as sent, never sent again."""
        if action.kind == "sagemaker" and self.monitor.actions.pipeline is not None:
            try:
                not_before = action.notice.decided_at - START_LOOKUP_MARGIN
                arn = self.gateway.find_pipeline_execution(self.monitor.actions.pipeline.name, action.key, not_before)
            except RetrainTriggerError as error:  # still unknown: a failed try, looked up again after its back-off
                # A lookup that failed for want of AWS is an outage too: it never spends the attempt (item 14).
                outage = isinstance(error, RetryableError)
                why = f"the lookup of its unrecorded start failed: {error}"
                return self._failed(state, action, why, outage, unknown=True)
            if arn is None and (self.monitor.mode == "shadow" or attempt_ended(action, state)):
                why = f"{action.kind} {action.key} was never made and its attempt is over: cancelled, not made"
                return self._cancel(state, (action,), why)
            if arn is None:  # it never started: start it now, under the same key
                return self._commit(state, lambda fresh: announced(fresh, _current(fresh, action), self.owner))
            self.log.append(Delivered(action.kind, action.key, "done", result=arn, attempts=action.attempts + 1))
            return self._commit(state, lambda fresh: delivered(fresh, _current(fresh, action), arn, self.now))
        self.log.append(Delivered(action.kind, action.key, "unconfirmed", attempts=action.attempts + 1))
        self._alert(messages.unconfirmed_alert(self.monitor, action, is_start(action, state)))
        return self._commit(state, lambda fresh: unconfirmed(fresh, _current(fresh, action)))

    def _failed(
        self, state: MonitorState, action: ActionRecord, error: str, outage: bool, unknown: bool = False
    ) -> MonitorState | None:
        record = failed_try(state, action, error, self.now, self.retry, outage, unknown)[1]
        status: DeliveryStatus = "failed" if record.status == "failed" else "retry"
        self.log.append(Delivered(action.kind, action.key, status, error=error, attempts=record.attempts))
        start_failed = record.status == "failed" and is_start(action, state)
        if not start_failed:
            self._alert_failure(record, outage)  # said first: whatever happens to the write below, it is known
        committed = self._commit(
            state,
            lambda fresh: failed_try(fresh, _current(fresh, action), error, self.now, self.retry, outage, unknown)[0],
            announce=not start_failed,  # the start's companions wait for the attempt's verdict, untried
        )
        if committed is None or record.status != "failed" or not is_start(action, committed):
            return committed
        decision = on_start_given_up(self.monitor, committed, record, self.now, self.config_version)
        if not decision.changed:
            self._alert_failure(record)
            return committed
        return self._transition(committed, decision)

    def _cancel(self, state: MonitorState, actions: tuple[ActionRecord, ...], why: str) -> MonitorState | None:
        """Cancel `actions` by a transition of their own (the history names each), never sending them."""
        self.log.extend(Delivered(a.kind, a.key, "cancelled") for a in actions)
        return self._transition(state, on_cancelled(self.monitor, state, actions, self.now, why, self.config_version))

    def _transition(self, state: MonitorState, decision: Decision) -> MonitorState | None:
        try:
            ours = decision.state
            if next_ready(ours, self.now) is not None:  # the lease only when there is something to deliver
                ours = leased(ours, self.owner, self.wall_clock(), self.lease) or ours
                ours = announce_next(ours, self.now, self.owner) if ours.lease_owner == self.owner else ours
            committed = self.states.commit(ours, state.version, history(decision, self.config_version))
        except StaleState:
            self.log.append(LeaseLost(decision.monitor_id))
            return None
        self.transitions.append(decision)
        return committed

    def _alert_failure(self, record: ActionRecord, outage: bool = False) -> None:
        retried_every = self.retry.max_backoff if outage else None
        self._alert(messages.action_failure_alert(self.monitor, record, self.retry.max_attempts, retried_every))

    def _alert(self, alert: Alert) -> None:
        """Straight to the topic, never through the outbox: the alert must not wait behind what failed. Said before
        the write that records the outcome: whatever happens to that write, the outcome is known."""
        key = str(alert.attributes["idempotency_key"])
        try:
            message_id = self.gateway.publish_alert(alert)
        except RetrainTriggerError as error:
            self.log.append(Delivered("sns", key, "failed", error=str(error)))
            return
        self.log.append(Delivered("sns", key, "done", result=message_id))

    def _commit(
        self, state: MonitorState, change: Callable[[MonitorState], MonitorState], announce: bool = True
    ) -> MonitorState | None:
        """Commit `change` at once, announcing the next ready action in the same write; when nothing else is ready,
        the write gives the lease back and records the delivery in the history. If another writer (the lifecycle
        function) moved the state meanwhile, the same change is applied to the fresh state while the lease is ours;
        if the write had landed and only its answer was lost, that is noticed and not done twice."""
        for _ in range(5):
            changed = announce_next(change(state), self.now, self.owner) if announce else change(state)
            last = next_ready(changed, self.now) is None
            written = released(changed) if last else changed
            try:
                return self.states.commit(written, state.version, self._entry(changed) if last else None)
            except StaleState:
                fresh = self.states.get(self.monitor.id)
                if _content(fresh) == _content(written):
                    return fresh  # our own write, whose answer was lost
                if fresh.lease_owner != self.owner:
                    self.log.append(LeaseLost(self.monitor.id))
                    return None
                state = fresh
        self.log.append(LeaseLost(self.monitor.id))
        return None

    def _entry(self, state: MonitorState) -> HistoryEntry:
        # A lost lease ends the delivery before any further write, so it is never among the results written here.
        steps = [d for d in self.log if isinstance(d, Delivered)]
        return HistoryEntry(
            monitor_id=self.monitor.id,
            at=self.now,
            before=state.status,
            after=state.status,
            reason="actions: " + ", ".join(f"{d.kind} {d.status}" for d in steps),
            config_version=self.config_version,
            episode_id=state.episode.id if state.episode else None,
            actions=tuple(f"{d.kind}:{d.status}:{d.result or d.error or ''}"[:300] for d in steps),
            kind=HistoryKind.DELIVERY,
        )

    def _release(self, state: MonitorState) -> MonitorState:
        """The lease, if a commit above did not already give it back (nothing was delivered after a transition)."""
        if state.lease_owner != self.owner:
            return state
        committed = self._commit(state, lambda fresh: fresh)
        return committed or state


def _content(state: MonitorState) -> MonitorState:
    return state.model_copy(update={"version": 0})


def _current(state: MonitorState, action: ActionRecord) -> ActionRecord:
    """The entry as `state` has it now (a concurrent commit may have moved it on)."""
    return next((a for a in state.actions if same(a, action)), action)


def perform(
    monitor: MonitorConfig, state: MonitorState, action: ActionRecord, version: str, gateway: ActionGateway
) -> str:
    match action.kind:
        case "sagemaker":
            return gateway.start_pipeline(messages.pipeline_start(monitor, action))
        case "sqs":
            return gateway.send_retrain_request(messages.retrain_request(monitor, state, action, version))
        case "eventbridge":
            return gateway.put_event(messages.bus_event(monitor, state, action, version))
        case "sns":
            return gateway.publish_alert(messages.alert(monitor, state, action, version))
    raise AssertionError(action.kind)  # pragma: no cover


def history(decision: Decision, config_version: str) -> HistoryEntry:
    """The history item a decision commits with: what changed, why, and what it queued, suppressed or cancelled."""
    return HistoryEntry(
        monitor_id=decision.monitor_id,
        at=decision.at,
        before=decision.before.status,
        after=decision.state.status,
        reason=decision.reason,
        config_version=config_version,
        score=decision.score,
        episode_id=decision.state.episode.id if decision.state.episode else None,
        actions=tuple(f"{a.kind}:{a.notice.event}" for a in decision.new_actions)
        + tuple(f"suppressed:{s}" for s in decision.suppressed)
        + tuple(f"cancelled:{a.kind}:{a.key}" for a in decision.cancelled),
    )
