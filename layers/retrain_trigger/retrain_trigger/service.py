"""Orchestration: read in batches, decide with the pure engine, commit conditionally; the outbox acts.

Every monitor is its own unit: a failed read, write or action of one monitor is that monitor's result (logged,
counted, alerted) and the others go on. A transition is committed (conditional on the version) before any side
effect; its actions go to the monitor's outbox (`outbox.py`), which only the evaluator delivers. The lifecycle
function only commits what a retraining's status means; the next tick delivers what that queued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from retrain_trigger import messages
from retrain_trigger.config import DEFAULT_TICK, Catalog, MonitorConfig
from retrain_trigger.courier import Courier, history
from retrain_trigger.digest_alerts import publish_digests
from retrain_trigger.errors import BadInput, ConfigError, RetrainTriggerError, RetryableError, StaleState
from retrain_trigger.fleet_config import FleetConfig
from retrain_trigger.fleet_tick import AlarmStates, FleetBudget, FleetTick, cause_ids, ended_attempt
from retrain_trigger.model import Datapoints, Decision, LifecycleEvent, MonitorState, Observation, episode_id
from retrain_trigger.outbox import (
    Delivered,
    RetryPolicy,
    announce_next,
    holds,
    leased,
    next_ready,
)
from retrain_trigger.policy import delivery_time, evaluate, is_due, is_stale, on_lifecycle, retraining_overdue
from retrain_trigger.policy.digest import tick_digests
from retrain_trigger.ports import ActionGateway, ConfigSource, ScoreSource, Shard, ShardQueue, StateStore
from retrain_trigger.tick_report import MonitorResult, Report

STATE_BATCH = 100  # one BatchGetItem; a failed batch fails only its own monitors
# A scheduled event's time is when it was due: never much after the clock. One far ahead is not a tick of ours.
MAX_TICK_AHEAD = timedelta(minutes=15)


@dataclass(frozen=True)
class Deps:
    config: ConfigSource
    scores: ScoreSource
    states: StateStore
    actions: ActionGateway
    owner: str  # this invocation's id, for the action lease
    wall_clock: Callable[[], datetime]  # real time, for leases and back-off only; decisions use the event's time
    tick: timedelta = DEFAULT_TICK
    lease: timedelta = timedelta(minutes=15)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    shards: ShardQueue | None = None  # None: one invocation evaluates the whole tick, however many are due
    shard_size: int = 2000  # the most due monitors one invocation evaluates before the tick fans out
    budget: FleetBudget | None = None  # the fleet's retraining budget (docs/fleet.md); None: never limited
    alarms: AlarmStates | None = None  # the CloudWatch alarms `suppressed_by` names; None: unreadable (they hold)


def evaluate_due_monitors(now: datetime, deps: Deps) -> Report:
    """The evaluator's one entry point: every due monitor decided at `now` (the tick's time), and every outbox
    with actions waiting delivered."""
    wall = deps.wall_clock()
    if now > wall + MAX_TICK_AHEAD:
        raise BadInput("*", "event.time", f"tick {now.isoformat()} is ahead of the clock ({wall.isoformat()})")
    try:
        catalog = deps.config.load()
    except ConfigError as error:  # nothing can be evaluated: say so on the topic, then fail the invocation
        _failed(error.monitor_id, error, deps, now)
        raise
    report = Report(now=now, config_version=catalog.version)
    for problem in catalog.errors:
        report.results.append(_failed(problem.monitor_id, problem, deps, now))
    due = [m for m in catalog.monitors if is_due(m.every, now, deps.tick, m.evaluation_delay)]
    waiting = _waiting(catalog, {m.id for m in due}, deps, report, now)
    if deps.shards is not None and len(due) > deps.shard_size:
        report.shards = _fan_out(due, waiting, now, deps.shards, deps.shard_size)
        return report
    return _evaluate(due, waiting, now, catalog.version, deps, report, catalog.fleet)


def evaluate_shard(shard: Shard, deps: Deps) -> Report:
    """A shard's entry point (the evaluator consuming its queue): its due monitors decided at the tick's time, its
    waiting outboxes delivered. Evaluated twice, it changes nothing: the state's conditional writes and the outbox's
    lease and keys hold across invocations as within one. A monitor no longer configured is skipped."""
    catalog = deps.config.load()  # a broken document fails the shard, which the queue retries (the tick alerted)
    report = Report(now=shard.now, config_version=catalog.version)
    known = {i: catalog.get(i) for i in (*shard.due, *shard.waiting)}
    for monitor_id in (i for i, m in known.items() if m is None):
        report.results.append(MonitorResult(monitor_id, "ignored", error={"problem": "no longer configured"}))
    due = [m for i in dict.fromkeys(shard.due) if (m := known[i]) is not None]
    waiting = [m for i in dict.fromkeys(shard.waiting) if i not in shard.due and (m := known[i]) is not None]
    scope = shard.due[0] if shard.due else ""  # each shard groups its own monitors' alerts (fleet-alerts.md)
    return _evaluate(due, waiting, shard.now, catalog.version, deps, report, catalog.fleet, scope)


def plan_shards(due: Sequence[str], waiting: Sequence[str], now: datetime, size: int) -> list[Shard]:
    """`due` in shards of at most `size`; each waiting outbox assigned to exactly one of them."""
    count = max(1, -(-len(due) // size))
    return [Shard(now, tuple(due[i * size : (i + 1) * size]), tuple(waiting[i::count])) for i in range(count)]


def _fan_out(
    due: Sequence[MonitorConfig], waiting: Sequence[MonitorConfig], now: datetime, queue: ShardQueue, size: int
) -> int:
    shards = plan_shards([m.id for m in due], [m.id for m in waiting], now, size)
    queue.send(shards)  # raises: the tick fails and its retry sends every shard again
    return len(shards)


def _evaluate(
    due: Sequence[MonitorConfig],
    waiting: Sequence[MonitorConfig],
    now: datetime,
    config_version: str,
    deps: Deps,
    report: Report,
    fleet_config: FleetConfig,
    scope: str = "",
) -> Report:
    """Decide `due` (causes first, docs/fleet.md), deliver every outbox of `due` and `waiting`: states and scores
    read in batches (with the states of the causes `due` names). More than `group_alerts_over` alerts of one event
    also go to on-call as one digest (docs/fleet-alerts.md; `scope`: the shard's, in a fanned-out tick)."""
    if not due and not waiting:
        return report
    ids = [m.id for m in [*due, *waiting]]
    states = _read_states([*ids, *(c for c in cause_ids(due) if c not in set(ids))], deps)
    windows = _read_scores(due, now, deps)
    due_ids = {m.id for m in due}
    fleet = FleetTick.start(fleet_config, now, due, states, deps.budget, deps.alarms)
    visiting = [*fleet.order(due), *waiting]
    decided: list[Decided] = []
    for m in visiting:
        window = windows.get(m.id, ()) if m.id in due_ids else None
        evaluate_one = partial(_evaluate_one, m, states[m.id], window, now, config_version, deps, fleet)
        decided.append(_isolated(m, deps, now, evaluate_one))
    # Every decision of the tick is committed before any is delivered: only then is it known which events are over
    # the limit, so a grouped alert goes out marked, after its digest, and never waits for a later tick.
    listed = [(m, r.decision) for m, (r, s) in zip(visiting, decided, strict=True) if s and r.decision]
    sent = publish_digests(tick_digests(listed, fleet_config.group_alerts_over, now, scope), deps.actions)
    report.digests += [d.as_dict() for d in sent.log]
    for m, (result, state) in zip(visiting, decided, strict=True):
        if state is None:  # failed, or another invocation committed first: it delivers
            report.results.append(result)
            continue
        deliver = partial(_deliver, m, state, result, now, config_version, deps, sent.grouped, fleet)
        report.results.append(_isolated(m, deps, now, deliver)[0])
    return report


def _waiting(catalog: Catalog, due: set[str], deps: Deps, report: Report, now: datetime) -> list[MonitorConfig]:
    """Monitors not due this tick whose outbox has actions waiting: their delivery does not wait for `every`."""
    try:
        waiting = deps.states.with_pending_actions()
    except RetrainTriggerError as error:
        report.results.append(_failed("*", error, deps, now, notify=False))
        return []
    return [m for m in (catalog.get(i) for i in dict.fromkeys(waiting) if i not in due) if m is not None]


def _read_states(ids: Sequence[str], deps: Deps) -> dict[str, MonitorState | RetrainTriggerError]:
    states: dict[str, MonitorState | RetrainTriggerError] = {}
    for start in range(0, len(ids), STATE_BATCH):
        batch = ids[start : start + STATE_BATCH]
        try:
            states.update(deps.states.get_many(batch))
        except RetrainTriggerError as error:
            states.update(dict.fromkeys(batch, error))
    return states


def _read_scores(due: Sequence[MonitorConfig], now: datetime, deps: Deps) -> Mapping[str, Any]:
    if not due:
        return {}
    try:
        return deps.scores.latest(due, now)
    except RetrainTriggerError as error:
        return dict.fromkeys((m.id for m in due), error)


Decided = tuple[MonitorResult, MonitorState | None]  # the state to deliver from, None when nothing is delivered


def _isolated(monitor: MonitorConfig, deps: Deps, now: datetime, step: Callable[[], Decided]) -> Decided:
    """One monitor's decision and commit, or its delivery. Nothing it raises reaches the other monitors."""
    try:
        return step()
    except RetrainTriggerError as error:
        return _failed(monitor.id, error, deps, now, notify=monitor.acting_at(now)), None
    except Exception as error:  # a defect of ours must not silence the other monitors either
        return _failed(monitor.id, RetrainTriggerError(f"{type(error).__name__}: {error}"), deps, now), None


def _deliver(
    monitor: MonitorConfig,
    state: MonitorState,
    result: MonitorResult,
    now: datetime,
    config_version: str,
    deps: Deps,
    grouped: Mapping[str, str],
    fleet: FleetTick,
) -> Decided:
    """Deliver the outbox. Delivery does not depend on the tick: a stale one delivers as at the last decision."""
    at = delivery_time(state, now)
    courier = Courier(
        monitor, deps.states, deps.actions, deps.owner, deps.wall_clock, deps.lease, deps.retry, at, config_version,
        grouped=grouped,
    )  # fmt: skip
    state = courier.deliver(state)
    result.actions += [d.as_dict() for d in courier.log]
    result.transitions = courier.transitions
    fleet.committed(monitor.id, courier.transitions[-1].state if courier.transitions else state, courier.transitions)
    return result, state


def _evaluate_one(
    monitor: MonitorConfig,
    state: MonitorState | RetrainTriggerError,
    window: Sequence[Observation] | RetrainTriggerError | None,
    now: datetime,
    config_version: str,
    deps: Deps,
    fleet: FleetTick,
) -> Decided:
    """Decide (if due) and commit; the state to deliver the outbox from. A window that could not be read is this
    monitor's error, but its waiting actions are still delivered; a state that could not be read is raised."""
    if isinstance(state, RetrainTriggerError):
        raise state
    result = MonitorResult(monitor.id, "delivered")
    if isinstance(window, RetrainTriggerError):
        result = _failed(monitor.id, window, deps, now, notify=monitor.acting_at(now))
    elif window is not None:
        decision = _decide(monitor, state, window, now, config_version, deps, fleet)
        result = MonitorResult(monitor.id, decision.outcome, decision)
        remembered = _report_refused(monitor, state, window, deps, result, now)
        if decision.changed or remembered is not None:
            target = decision.state
            if remembered is not None:
                target = target.model_copy(update={"refused_items": remembered})
            try:
                state = deps.states.commit(
                    _with_lease(monitor, target, deps, now),
                    state.version,
                    history(decision, config_version) if decision.changed else None,
                )
            except StaleState:
                result.outcome = "conflict"  # another invocation committed first; it delivers
                return result, None
            fleet.committed(monitor.id, state, [decision])
    return result, state


def _report_refused(
    monitor: MonitorConfig,
    state: MonitorState,
    window: Sequence[Observation],
    deps: Deps,
    result: MonitorResult,
    now: datetime,
) -> tuple[str, ...] | None:
    """Alert each bad score item the read skipped that the state does not remember as reported; the keys to remember
    from now on, or None when nothing new was reported (then nothing is written for it: a steady tick stays one
    read). What is remembered is bounded by what the read still skips: a key whose item is gone is forgotten at the
    next commit. An alert that failed is not remembered, so the next tick tries it again."""
    refused = window.refused if isinstance(window, Datapoints) else ()
    fresh = [item for item in refused if item.key not in state.refused_items]
    if not fresh or not monitor.acting_at(now):
        return None
    reported: list[str] = []
    for item in fresh:
        alert = messages.refused_item_alert(monitor.id, item)
        key = alert.attributes["idempotency_key"]
        result.refused.append({"item_key": item.key, **item.error.as_dict()})
        try:
            message_id = deps.actions.publish_alert(alert)
        except RetrainTriggerError as error:
            result.actions.append(Delivered("sns", key, "failed", error=str(error)).as_dict())
            continue
        result.actions.append(Delivered("sns", key, "done", result=message_id).as_dict())
        reported.append(item.key)
    if not reported:
        return None
    still = {item.key for item in refused}
    return tuple(k for k in state.refused_items if k in still) + tuple(reported)


def _decide(
    monitor: MonitorConfig,
    state: MonitorState,
    window: Sequence[Observation],
    now: datetime,
    config_version: str,
    deps: Deps,
    fleet: FleetTick,
) -> Decision:
    """The engine's decision, with the fleet's holds (policy/fleet.py); before a retraining is declared timed out,
    its pipeline's real status is applied."""
    episode = state.episode
    overdue = retraining_overdue(monitor, state, now) and not is_stale(state, now)
    if overdue and episode is not None and episode.execution_arn:
        status = deps.actions.pipeline_status(episode.execution_arn)
        kind = status.lifecycle if status is not None and status.final else None
        if kind is not None:
            event = LifecycleEvent(
                kind=kind,
                at=now,
                monitor_id=monitor.id,
                execution_arn=episode.execution_arn,
                episode_id=episode.id,
                attempt=episode.retrains,
                detail="status read from SageMaker before the timeout (its status event never arrived)",
            )
            return on_lifecycle(monitor, state, event, config_version)
    return fleet.decide(
        monitor, lambda held: evaluate(monitor, state, window, now, config_version, tick=deps.tick, held=held)
    )


def handle_lifecycle_event(event: LifecycleEvent, deps: Deps, attempts: int = 3) -> MonitorResult:
    """The lifecycle function's entry point: a retraining's status or a deployment, committed exactly once.

    It never delivers actions (its role may not start pipelines): what it queues goes out on the next tick."""
    monitor_id = event.monitor_id or (
        deps.states.find_by_execution(event.execution_arn) if event.execution_arn else None
    )
    if monitor_id is None:
        return MonitorResult("-", "ignored", error={"problem": f"no monitor of ours runs {event.execution_arn}"})
    catalog = deps.config.load()
    monitor = catalog.get(monitor_id)
    if monitor is None:
        raise BadInput(monitor_id, "monitor_id", "no such monitor in the configuration")
    for _ in range(attempts):
        state = deps.states.get(monitor_id)
        decision = on_lifecycle(monitor, state, event, catalog.version)
        result = MonitorResult(monitor_id, decision.outcome, decision)
        if not decision.changed:
            return result
        try:
            deps.states.commit(decision.state, state.version, history(decision, catalog.version))
        except StaleState:
            continue  # the evaluator moved the state meanwhile: decide again on the fresh state
        if deps.budget and catalog.fleet.max_concurrent_retrains is not None and (key := ended_attempt(decision)):
            deps.budget.release(key)  # after the commit: a failed release leaves a slot taken, never one too many
        result.actions = [{"kind": a.kind, "key": a.key, "status": "queued"} for a in decision.new_actions]
        return result
    raise RetryableError(f"monitor {monitor_id!r}: state kept changing under {attempts} attempts; retry the event")


def _with_lease(monitor: MonitorConfig, state: MonitorState, deps: Deps, now: datetime) -> MonitorState:
    """Take the lease, and announce the first try, in the same write as the transition when there is something to
    deliver and the lease is free. Nothing while muted: the outbox holds its actions untried."""
    if holds(monitor, now) or next_ready(state, now) is None:
        return state
    ours = leased(state, deps.owner, deps.wall_clock(), deps.lease)
    return announce_next(ours, now, deps.owner) if ours is not None else state


def _failed(
    monitor_id: str, error: RetrainTriggerError, deps: Deps, now: datetime, notify: bool = True
) -> MonitorResult:
    """Bad input or an unreadable source: report it, alert it, leave the state as it was."""
    result = MonitorResult(monitor_id, "error", error=messages.error_details(monitor_id, error))
    if notify:
        key = f"{episode_id(monitor_id, now)}:evaluation_error"
        try:
            message_id = deps.actions.publish_alert(messages.error_alert(monitor_id, error, key))
            result.actions.append(Delivered("sns", key, "done", result=message_id).as_dict())
        except RetrainTriggerError as alert_error:
            result.actions.append(Delivered("sns", key, "failed", error=str(alert_error)).as_dict())
    return result
