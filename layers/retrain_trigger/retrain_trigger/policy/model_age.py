"""Model age: past `max_model_age`, a retraining starts even without drift ("model age"), once per age window.

The age counts from `MonitorState.model_at`: the last successful retraining or "Model Deployed" (before either is
seen, the first evaluation with `max_model_age` records its own time, once). Age window k (k >= 1) runs from
`model_at + k * max_model_age` to the next; a retraining decided in it (for age or for drift, whatever its outcome)
spends it, so a window starts at most one age retraining and a failed one is tried again in the next window (or a
deployment resets the age). The retraining takes the one start path, `rules.start_retraining`: its episode's id is
derived from the age window, so every retry of the tick derives the same idempotency keys.

An open drift episode (ALARM, RETRAINING, RETRAINED) is left to its own rules: its retraining, cap and back-off stay
as configured, and the age retraining waits until it closes (then, in the same age window, it starts unless that
episode already retrained in it). Muted, in a maintenance window, in the grace period or the cooldown, the age
retraining waits too, without spending its window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from retrain_trigger.model import ARMED, Episode, episode_id
from retrain_trigger.policy.decisions import Context, Keep, Plan, also_set
from retrain_trigger.policy.maintenance import muted_reason
from retrain_trigger.policy.rules import start_retraining


def model_age(ctx: Context, plan: Plan) -> Plan:
    """OK or WARNING, nothing else decided: past `max_model_age` a retraining starts (RETRAINING), once per age
    window; before the age is known, the first evaluation records when it starts counting."""
    monitor, state, now = ctx.monitor, ctx.state, ctx.now
    limit = monitor.max_model_age
    if limit is None:
        return plan
    if state.model_at is None:
        why = f"model age counted from {now.isoformat()}: no retraining or deployment recorded yet"
        return also_set(ctx, plan, why, model_at=now)
    due = age_window(state.model_at, limit, now)
    if due is None or not isinstance(plan, Keep) or state.status not in ARMED:
        return plan
    if state.last_retrain_at is not None and state.last_retrain_at >= due:
        return plan  # this window already had its retraining
    blockers = _blockers(ctx)
    age = f"model age: {now - state.model_at} since {state.model_at.isoformat()} exceeds max_model_age {limit}"
    if blockers:
        return Keep(f"{plan.reason}; {age}; retraining waits: {'; '.join(blockers)}", plan.outcome, plan.guards)
    episode = Episode(
        id=age_episode_id(monitor.id, due),
        opened_at=now,
        trigger_score=None,
        announced=monitor.acting_at(now) or monitor.mode == "shadow",
        shadow=monitor.mode == "shadow",
    )
    return start_retraining(ctx, episode, None, age, {})


def age_window(model_at: datetime, limit: timedelta, now: datetime) -> datetime | None:
    """The start of the age window `now` falls in (None: the model is not older than `limit` yet)."""
    windows = (now - model_at) // limit
    return model_at + windows * limit if windows >= 1 else None


def age_episode_id(monitor_id: str, due: datetime) -> str:
    """Derived from the age window, never from a datapoint, so it cannot be a drift episode's id."""
    return f"{episode_id(monitor_id, due)}~age"


def _blockers(ctx: Context) -> list[str]:
    monitor, state, now = ctx.monitor, ctx.state, ctx.now
    reasons: list[str] = []
    if state.grace_until is not None and now < state.grace_until:
        reasons.append(f"grace period until {state.grace_until.isoformat()}")
    if state.last_retrain_at is not None and now < state.last_retrain_at + monitor.cooldown:
        reasons.append(f"cooldown until {(state.last_retrain_at + monitor.cooldown).isoformat()}")
    if not monitor.actions.on_retrain:
        reasons.append("no on_retrain actions configured")
    if monitor.mode != "shadow" and not monitor.acting_at(now):
        reasons.append(muted_reason(monitor, now))
    return reasons
