"""The engine's entry points: which rules apply to a monitor's state, in which order. Each builds one Decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from retrain_trigger.config import DEFAULT_TICK, MonitorConfig
from retrain_trigger.model import ARMED, ActionRecord, Decision, LifecycleEvent, MonitorState, Observation, Status
from retrain_trigger.policy import lifecycle, operator, rules
from retrain_trigger.policy.approval import acknowledged
from retrain_trigger.policy.decisions import Context, Plan, decision
from retrain_trigger.policy.model_age import model_age
from retrain_trigger.policy.window import Window


def evaluate(
    monitor: MonitorConfig,
    state: MonitorState,
    datapoints: Sequence[Observation],
    now: datetime,
    config_version: str = "",
    *,
    tick: timedelta = DEFAULT_TICK,
    held: Sequence[str] = (),
) -> Decision:
    """Decide one monitor at `now` from its latest datapoints (any order); datapoints after `now` are not seen.
    `tick` is how often the evaluator runs: a monitor without `every` is evaluated, and its data ages, per tick.
    `held`: the fleet's holds on a retraining it would start (policy/fleet.py), blocking it as a guard does."""
    ctx = Context(monitor, state, now, config_version)
    stale = rules.stale_tick(ctx)
    if stale is not None:
        return decision(ctx, stale)
    armed = rules.left_shadow(ctx)
    basis = armed or state
    window = Window.at(monitor, basis, datapoints, now, tick)
    ctx = Context(monitor, basis, now, config_version, window, stored=state if armed else None, held=tuple(held))
    plan = model_age(ctx, _by_status(ctx, window))
    plan = rules.announce_after_mute(ctx, plan)
    plan = plan if acknowledged(ctx.state) else rules.renotify(ctx, window, plan)
    return decision(ctx, rules.data_gap(ctx, window, plan))


def _by_status(ctx: Context, window: Window) -> Plan:
    status = ctx.state.status
    if status is Status.RETRAINING:
        return rules.retraining(ctx, window)
    if status is Status.AWAITING_APPROVAL:  # before the data: a request expires even when none arrives
        return operator.awaiting_approval(ctx, window)
    kept = rules.no_fresh_datapoint(ctx, window)
    if kept is not None:
        return kept
    if status in ARMED:
        return rules.armed(ctx, window)
    if status is Status.RETRAINED:
        return rules.after_retraining(ctx, window)
    return rules.in_alarm(ctx, window)


def on_lifecycle(
    monitor: MonitorConfig,
    state: MonitorState,
    event: LifecycleEvent,
    config_version: str = "",
) -> Decision:
    """Apply a retraining status change or a deployment to the state, at the event's time.

    A status change counts only for the attempt that is running: its execution ARN, or its episode id and attempt
    number. Anything else (a late event of an earlier attempt, another pipeline's run) is `ignored`."""
    ctx = Context(monitor, state, event.at, config_version)
    if event.kind == "deployed":
        return decision(ctx, lifecycle.model_deployed(ctx, event))
    ignored = lifecycle.other_attempt(ctx, event)
    if ignored is not None:
        return decision(ctx, ignored)
    if event.kind == "executing":
        return decision(ctx, lifecycle.retraining_running(ctx, event))
    if event.kind == "succeeded":
        return decision(ctx, lifecycle.retraining_succeeded(ctx, event))
    episode = state.episode
    assert episode is not None  # other_attempt ignores an event without a running attempt
    detail = f": {event.detail}" if event.detail else ""
    return decision(
        ctx, lifecycle.retraining_failed(ctx, f"retraining attempt {episode.retrains} {event.kind}{detail}")
    )


def on_cancelled(
    monitor: MonitorConfig,
    state: MonitorState,
    actions: Sequence[ActionRecord],
    now: datetime,
    why: str,
    config_version: str = "",
) -> Decision:
    """The outbox cancels `actions` instead of delivering them (see `lifecycle.actions_cancelled`)."""
    ctx = Context(monitor, state, now, config_version)
    return decision(ctx, lifecycle.actions_cancelled(ctx, actions, why))


def on_start_given_up(
    monitor: MonitorConfig, state: MonitorState, action: ActionRecord, now: datetime, config_version: str = ""
) -> Decision:
    """The outbox gave up on the action that starts a retraining: that attempt failed (alert, back-off)."""
    ctx = Context(monitor, state, now, config_version)
    return decision(ctx, lifecycle.start_given_up(ctx, action))
