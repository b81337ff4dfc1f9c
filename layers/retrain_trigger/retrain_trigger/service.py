"""Orchestration: read in batches, decide with the pure engine, commit conditionally, then act once.

Exactly once: a transition is committed (conditional on the version) before any side effect. Its actions
carry keys derived from the episode. Whoever commits, or later claims, the monitor's lease runs them; a
concurrent invocation that loses the write, or finds the lease held, does nothing. A failed action stays
pending and is retried on a later tick with the same key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from retrain_trigger import messages
from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import BadInput, ConfigError, RetrainTriggerError, RetryableError, StaleState
from retrain_trigger.model import ActionRecord, Decision, LifecycleEvent, MonitorState, Observation, episode_id
from retrain_trigger.policy import evaluate, is_due, on_lifecycle
from retrain_trigger.ports import ActionGateway, ConfigSource, HistoryEntry, ScoreSource, StateStore


@dataclass(frozen=True)
class Deps:
    config: ConfigSource
    scores: ScoreSource
    states: StateStore
    actions: ActionGateway
    owner: str  # this invocation's id, for the action lease
    wall_clock: Callable[[], datetime]  # real time, for leases only; decisions use the event's time
    tick: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=15)


@dataclass
class MonitorResult:
    monitor_id: str
    outcome: str  # a Decision outcome, or "conflict", "error", "lease_held"
    decision: Decision | None = None
    error: dict[str, str] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"monitor_id": self.monitor_id, "outcome": self.outcome, "actions": self.actions}
        if self.decision is not None:
            out |= {
                "state_before": self.decision.before.status.value,
                "state_after": self.decision.state.status.value,
                "score": self.decision.score,
                "reason": self.decision.reason,
            }
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Report:
    now: datetime
    config_version: str
    results: list[MonitorResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "config_version": self.config_version,
            "evaluated": len(self.results),
            "transitions": self.count("transition"),
            "errors": self.count("error"),
            "monitors": [r.as_dict() for r in self.results],
        }


def evaluate_due_monitors(now: datetime, deps: Deps) -> Report:
    """The evaluator's one entry point: every due monitor, decided and acted on at `now` (the tick's time)."""
    try:
        catalog = deps.config.load()
    except ConfigError as error:  # nothing can be evaluated: say so on the topic, then fail the invocation
        _failed(error.monitor_id, error, deps, now)
        raise
    report = Report(now=now, config_version=catalog.version)
    for problem in catalog.errors:
        report.results.append(_failed(problem.monitor_id, problem, deps, now))
    due = [m for m in catalog.monitors if is_due(m.every, now, deps.tick)]
    if not due:
        return report
    states = deps.states.get_many([m.id for m in due])
    windows = deps.scores.latest(due, now)
    for monitor in due:
        state = states.get(monitor.id) or MonitorState(monitor_id=monitor.id)
        report.results.append(_evaluate_one(monitor, state, windows.get(monitor.id, ()), now, catalog.version, deps))
    return report


def _evaluate_one(
    monitor: MonitorConfig,
    state: MonitorState,
    window: Sequence[Observation] | RetrainTriggerError,
    now: datetime,
    config_version: str,
    deps: Deps,
) -> MonitorResult:
    try:
        if isinstance(window, RetrainTriggerError):
            raise window
        decision = evaluate(monitor, state, window, now, config_version)
    except RetrainTriggerError as error:
        return _failed(monitor.id, error, deps, now, notify=monitor.acting_at(now))
    result = MonitorResult(monitor.id, decision.outcome, decision)
    if decision.changed:
        try:
            state = deps.states.commit(_leased(decision.state, deps), state.version, _history(decision, config_version))
        except StaleState:
            result.outcome = "conflict"  # another invocation committed this tick first; it acts
            return result
    result.actions = run_pending(monitor, state, config_version, deps)
    return result


def handle_lifecycle_event(event: LifecycleEvent, deps: Deps, attempts: int = 3) -> MonitorResult:
    """The lifecycle function's entry point: a retraining's status or a deployment, applied exactly once."""
    monitor_id = event.monitor_id or (
        deps.states.find_by_execution(event.execution_arn) if event.execution_arn else None
    )
    if monitor_id is None:
        return MonitorResult("?", "ignored", error={"problem": f"no monitor runs execution {event.execution_arn}"})
    catalog = deps.config.load()
    monitor = catalog.get(monitor_id)
    if monitor is None:
        raise BadInput(monitor_id, "monitor_id", "no such monitor in the configuration")
    for _ in range(attempts):
        state = deps.states.get_many([monitor_id]).get(monitor_id) or MonitorState(monitor_id=monitor_id)
        decision = on_lifecycle(monitor, state, event, catalog.version)
        result = MonitorResult(monitor_id, decision.outcome, decision)
        if not decision.changed:
            return result
        try:
            committed = deps.states.commit(
                _leased(decision.state, deps), state.version, _history(decision, catalog.version)
            )
        except StaleState:
            continue  # the evaluator moved the state meanwhile: decide again on the fresh state
        result.actions = run_pending(monitor, committed, catalog.version, deps)
        return result
    raise RetryableError(f"monitor {monitor_id!r}: state kept changing under {attempts} attempts; retry the event")


def run_pending(monitor: MonitorConfig, state: MonitorState, config_version: str, deps: Deps) -> list[dict[str, Any]]:
    """Run the committed, pending actions in order, under this invocation's lease. Returns what was done."""
    if not state.pending:
        return []
    wall = deps.wall_clock()
    if state.lease_owner != deps.owner:
        if state.lease_until is not None and state.lease_until > wall:
            return [{"kind": a.kind, "key": a.key, "status": "lease_held"} for a in state.pending]
        try:
            state = deps.states.commit(_leased(state, deps), state.version, None)
        except StaleState:
            return []
    records: list[dict[str, Any]] = []
    current = state
    for action in state.pending:
        try:
            result = _perform(monitor, current, action, config_version, deps.actions)
        except RetrainTriggerError as error:
            failed = action.model_copy(update={"attempts": action.attempts + 1, "last_error": str(error)[:500]})
            current = _replace(current, action, failed)
            records.append({"kind": action.kind, "key": action.key, "status": "failed", "error": str(error)})
            break  # later actions wait: the alert must not announce a pipeline that did not start
        done = action.model_copy(update={"status": "done", "attempts": action.attempts + 1, "result": result})
        current = _replace(current, action, done)
        if action.kind == "sagemaker" and current.episode is not None:
            current = current.model_copy(
                update={"episode": current.episode.model_copy(update={"execution_arn": result})}
            )
        records.append({"kind": action.kind, "key": action.key, "status": "done", "result": result})
    released = current.model_copy(update={"lease_owner": None, "lease_until": None})
    entry = HistoryEntry(
        monitor_id=monitor.id,
        at=max(a.notice.decided_at for a in state.pending),
        before=state.status.value,
        after=released.status.value,
        reason="actions: " + ", ".join(f"{r['kind']} {r['status']}" for r in records),
        config_version=config_version,
        episode_id=released.episode.id if released.episode else None,
        actions=tuple(f"{r['kind']}:{r['status']}:{r.get('result') or r.get('error', '')}" for r in records),
    )
    try:
        deps.states.commit(released, state.version, entry)
    except StaleState:  # only if our lease outlived itself; the keys keep a re-run harmless
        records.append({"kind": "state", "status": "release_lost"})
    return records


def _perform(
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


def _replace(state: MonitorState, old: ActionRecord, new: ActionRecord) -> MonitorState:
    return state.model_copy(update={"actions": tuple(new if a == old else a for a in state.actions)})


def _leased(state: MonitorState, deps: Deps) -> MonitorState:
    if not state.pending:
        return state.model_copy(update={"lease_owner": None, "lease_until": None})
    return state.model_copy(update={"lease_owner": deps.owner, "lease_until": deps.wall_clock() + deps.lease})


def _history(decision: Decision, config_version: str) -> HistoryEntry:
    return HistoryEntry(
        monitor_id=decision.monitor_id,
        at=decision.at,
        before=decision.before.status.value,
        after=decision.state.status.value,
        reason=decision.reason,
        config_version=config_version,
        score=decision.score,
        episode_id=decision.state.episode.id if decision.state.episode else None,
        actions=tuple(f"{a.kind}:{a.notice.event}" for a in decision.new_actions) + decision.suppressed,
    )


def _failed(
    monitor_id: str, error: RetrainTriggerError, deps: Deps, now: datetime, notify: bool = True
) -> MonitorResult:
    """Bad input or an unreadable source: report it, alert it, leave the state as it was."""
    result = MonitorResult(monitor_id, "error", error=messages.error_details(monitor_id, error))
    if notify:
        key = f"{episode_id(monitor_id, now)}:evaluation_error"
        try:
            message_id = deps.actions.publish_alert(messages.error_alert(monitor_id, error, key))
            result.actions.append({"kind": "sns", "key": key, "status": "done", "result": message_id})
        except RetrainTriggerError as alert_error:
            result.actions.append({"kind": "sns", "key": key, "status": "failed", "error": str(alert_error)})
    return result
