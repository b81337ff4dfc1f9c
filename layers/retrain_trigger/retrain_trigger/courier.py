"""The delivery loop of the outbox: runs one monitor's ready actions through the ports, under its lease.

The rules of delivery (order, announcement, reconciliation, back-off, modes) are described and decided in `outbox`;
this module only talks to the state store and the action gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from retrain_trigger import messages
from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import RetrainTriggerError, RetryableError, StaleState
from retrain_trigger.model import ActionRecord, Decision, HistoryKind, MonitorState, ranked
from retrain_trigger.outbox import (
    START_LOOKUP_MARGIN,
    Delivered,
    DeliveryStatus,
    LeaseLost,
    RetryPolicy,
    announce_next,
    announced,
    delivered,
    failed_try,
    holds,
    is_start,
    leased,
    next_ready,
    released,
    same,
    unconfirmed,
)
from retrain_trigger.policy import attempt_ended, on_cancelled, on_start_given_up
from retrain_trigger.ports import ActionGateway, Alert, HistoryEntry, StateStore


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
    grouped: Mapping[str, str] = field(default_factory=dict)  # alert key -> the published digest listing it

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
            result = perform(
                self.monitor, state, action, self.config_version, self.gateway, self.grouped.get(action.key, "")
            )
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
    monitor: MonitorConfig,
    state: MonitorState,
    action: ActionRecord,
    version: str,
    gateway: ActionGateway,
    grouped_in: str,
) -> str:
    """Make one try of `action`; `grouped_in`: the key of the published digest listing it (an alert), else ''."""
    match action.kind:
        case "sagemaker":
            return gateway.start_pipeline(messages.pipeline_start(monitor, action))
        case "sqs":
            return gateway.send_retrain_request(messages.retrain_request(monitor, state, action, version))
        case "eventbridge":
            return gateway.put_event(messages.bus_event(monitor, state, action, version))
        case "sns":
            return gateway.publish_alert(messages.alert(monitor, state, action, version, grouped_in))
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
        extra={"top_features": ranked(decision.features)} if decision.features else {},
    )
