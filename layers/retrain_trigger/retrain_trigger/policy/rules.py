"""The rules, one function per state and per step; the README's rules table names each one.

A rule reads a Context (and, for an evaluation, the Window) and answers with a plan: `Keep` the state, or `Move`
to another with the notices to send. `decisions.decision` builds the Decision from the plan, once.
"""

from __future__ import annotations

from collections.abc import Mapping

from retrain_trigger.model import (
    Episode,
    MonitorState,
    NoticeEvent,
    Observation,
    Status,
    episode_id,
    idempotency_key,
)
from retrain_trigger.policy.approval import approval_blockers, approval_needed, request_approval
from retrain_trigger.policy.decisions import Context, Keep, Move, Plan, Tell, also_set, also_tell, tell
from retrain_trigger.policy.lifecycle import retraining_failed
from retrain_trigger.policy.maintenance import muted_reason
from retrain_trigger.policy.schedule import is_stale, retraining_overdue
from retrain_trigger.policy.window import Window

# -- the states -------------------------------------------------------------------------------------------------


def stale_tick(ctx: Context) -> Keep | None:
    """Any state: a tick older than the last committed evaluation (a retry or a redelivered shard that arrives
    after the next tick committed) changes nothing; it is reported `stale` (None: the tick is not stale)."""
    decided_at = ctx.state.decided_at
    if decided_at is None or not is_stale(ctx.state, ctx.now):
        return None
    return Keep(f"stale tick: the state was last decided at {decided_at.isoformat()}, after this tick", "stale")


def no_fresh_datapoint(ctx: Context, window: Window) -> Keep | None:
    """No fresh datapoint and `missing_data` missing or ignore: the state is kept (None: the state's rule
    decides)."""
    if window.latest is not None:
        return None
    if ctx.monitor.missing_data == "missing":
        return Keep("no fresh datapoint: insufficient data, state kept", "insufficient_data")
    if ctx.monitor.missing_data == "ignore":
        return Keep("no fresh datapoint: ignored, state kept", "ignored_missing")
    return None


def armed(ctx: Context, window: Window) -> Plan:
    """OK or WARNING: critical opens an episode (retraining, or an alert saying what blocks it); the warning level
    alerts once, and recovers below `warning_reset`."""
    monitor, status = ctx.monitor, ctx.state.status
    if window.critical:
        trigger = window.trigger
        opened_at = trigger.at if trigger else ctx.now
        episode = Episode(
            id=episode_id(monitor.id, opened_at),
            opened_at=opened_at,
            trigger_score=trigger.score if trigger else None,
            announced=monitor.acting_at(ctx.now) or monitor.mode == "shadow",
            shadow=monitor.mode == "shadow",
        )
        return _retrain_or_alert(ctx, window, episode, "critical")
    if window.warning:
        if status is Status.OK:
            why = f"drift above warning {monitor.warning} in {window.m_of_n(monitor.warning)}"
            return Move(Status.WARNING, why, notices=(tell(ctx, "warning", ctx.alert_kinds, why),))
        return Keep("still at warning level")
    warning_reset, latest = monitor.warning_reset_level, window.latest
    if status is Status.WARNING and (latest is None or warning_reset is None or latest.score < warning_reset):
        why = "drift back below the warning level"
        return Move(Status.OK, why, notices=(tell(ctx, "recovered", ctx.alert_kinds, why),))
    return Keep("no breach")


def in_alarm(ctx: Context, window: Window) -> Plan:
    """ALARM: closes below reset; retrains in the same episode once nothing blocks any more."""
    episode = ctx.state.episode
    assert episode is not None
    monitor = ctx.monitor
    if window.below_reset:
        return _close_episode(ctx, window, f"drift {window.score_text()} below reset {monitor.reset_level}")
    if not window.critical:
        return Keep(f"drift {window.score_text()} not below reset {monitor.reset_level}: not re-armed")
    trigger = window.trigger
    blockers, guards = _blockers(ctx, episode, trigger)
    if blockers:
        return Keep(f"still critical; retraining blocked: {'; '.join(blockers)}", guards=guards)
    return start_retraining(ctx, episode, trigger, window.above_text(trigger, window.score_text()), guards)


def retraining(ctx: Context, window: Window) -> Plan:
    """RETRAINING: breaches do not fire again; no final status within `retraining_timeout` of the attempt's real
    start (of its decision once no start waits and none was delivered with evidence) fails the attempt."""
    episode = ctx.state.episode
    assert episode is not None
    if retraining_overdue(ctx.monitor, ctx.state, ctx.now):
        since = "its start" if episode.retrain_started_at else "its decision (no start was confirmed)"
        return retraining_failed(
            ctx,
            f"retraining attempt {episode.retrains} had no final status within {ctx.monitor.retraining_timeout}"
            f" of {since}",
        )
    if episode.retrain_started_at is None:
        return Keep("retraining requested, its start not delivered yet: breaches do not fire again")
    return Keep("retraining in progress: breaches do not fire again")


def after_retraining(ctx: Context, window: Window) -> Plan:
    """RETRAINED: closes below reset; still critical after the grace period escalates (and retrains again only
    as `retrain_on_persisting_drift` and `cooldown` allow)."""
    episode, state = ctx.state.episode, ctx.state
    assert episode is not None
    if window.below_reset:
        return _close_episode(ctx, window, f"retraining fixed the drift: {window.score_text()} below reset")
    if state.grace_until is not None and ctx.now < state.grace_until:
        return Keep(f"grace period until {state.grace_until.isoformat()}")
    if not window.critical:
        return Keep(f"drift {window.score_text()} not below reset {ctx.monitor.reset_level}: not re-armed")
    return _retrain_or_alert(ctx, window, episode, "escalation")


def start_retraining(
    ctx: Context,
    episode: Episode,
    trigger: Observation | None,
    above: str,
    guards: Mapping[str, bool],
) -> Move:
    """The next attempt of `episode` starts (RETRAINING); in shadow mode it is taken as succeeded at once
    (RETRAINED), with every action only logged. With `approval: required` it waits for an operator instead."""
    if approval_needed(ctx.monitor, episode):
        return request_approval(ctx, episode, trigger, above, guards)
    now, monitor, attempt = ctx.now, ctx.monitor, episode.retrains + 1
    started = episode.model_copy(
        update={
            "retrains": attempt,
            "retrain_requested_at": now,
            "retrain_started_at": None,
            "execution_arn": None,
            "last_attempt_failed": False,
            "retry_not_before": None,
        }
    )
    if monitor.mode == "shadow":
        until = now + monitor.grace_period
        grace = max(until, ctx.state.grace_until) if ctx.state.grace_until else until
        why = (
            f"{above}: shadow mode: would retrain (attempt {attempt} of episode {episode.id}), taken as "
            f"succeeded at once; grace period until {grace.isoformat()}"
        )
        fields: dict[str, object] = {
            "episode": started.model_copy(update={"retrain_started_at": now}),
            "last_retrain_at": now,
            "grace_until": grace,
            "evidence_after": now,
            "model_at": now,
        }
        status = Status.RETRAINED
    else:
        why = f"{above}: retraining started (attempt {attempt} of episode {episode.id})"
        fields = {"episode": started, "last_retrain_at": now}
        status = Status.RETRAINING
    notice = tell(ctx, "retrain_started", monitor.actions.on_retrain, why, trigger)
    return Move(status, why, fields, (notice,), guards)


def left_shadow(ctx: Context) -> MonitorState | None:
    """A monitor decided in shadow mode and now active (or muted) starts armed, without shadow's episodes: they
    never reached anyone. An episode opened in active mode is real, whatever the mode was meanwhile: it is kept,
    with its retraining, grace period and cooldown. None: it was not in shadow mode, or still is, or its episode
    is real."""
    state = ctx.state
    if not state.shadow or ctx.monitor.mode == "shadow":
        return None
    if state.episode is not None and state.episode.shadow is False:
        return None
    return MonitorState(
        monitor_id=state.monitor_id,
        version=state.version,
        actions=state.pending,
        lease_owner=state.lease_owner,
        lease_until=state.lease_until,
        config_version=ctx.config_version or state.config_version,
        updated_at=ctx.now,
        decided_at=ctx.now,
    )


# -- the steps after a state's rule: repeat alerts, no data -------------------------------------------------------


def announce_after_mute(ctx: Context, plan: Plan) -> Plan:
    """An episode opened while muted, still open (ALARM, RETRAINED) when the mute ends: its alert, once."""
    episode = ctx.state.episode
    if not isinstance(plan, Keep) or episode is None or ctx.state.status not in (Status.ALARM, Status.RETRAINED):
        return plan
    if episode.announced or not ctx.monitor.acting_at(ctx.now):
        return plan
    event: NoticeEvent = "escalation" if episode.escalated else "critical"
    why = f"episode {episode.id} opened while muted and is still open: announced now the mute has ended"
    key = idempotency_key(episode.id, episode.retrains, event)
    return also_tell(ctx, plan, Tell(event, ctx.alert_kinds, why, episode.opened_at, episode.trigger_score, key))


def renotify(ctx: Context, window: Window, plan: Plan) -> Plan:
    """An open episode's alert (ALARM, RETRAINED) repeats every `renotify_every` while no retraining runs and fresh
    data says the drift persists."""
    state, latest, every = ctx.state, window.latest, ctx.monitor.renotify_every
    episode = state.episode
    if not isinstance(plan, Keep) or episode is None or state.status not in (Status.ALARM, Status.RETRAINED):
        return plan
    if not episode.announced or every is None or latest is None:
        return plan
    if ctx.now < (episode.notified_at or episode.opened_at) + every:
        return plan
    if state.status is Status.RETRAINED and latest.score < ctx.monitor.reset_level:
        return plan  # on its way to recovery: nothing to repeat
    event: NoticeEvent = "escalation" if episode.escalated else "critical"
    n = episode.renotified + 1
    why = f"repeat {n} of the {event} alert: episode {episode.id} still open, drift {window.score_text()}"
    key = idempotency_key(episode.id, episode.retrains, f"{event}#r{n}")
    return also_tell(ctx, plan, Tell(event, ctx.alert_kinds, why, latest.at, latest.score, key, renotification=n))


def data_gap(ctx: Context, window: Window, plan: Plan) -> Plan:
    """One `no_data` alert when a gap starts (the newest datapoint older than `no_data_after`), one
    `data_resumed` when a newer datapoint ends it. The gap's datapoints count as missing (see Window)."""
    since, newest_at, newest, monitor = ctx.state.gap_since, window.newest_at, window.newest, ctx.monitor
    if window.gap and since is None and newest_at is not None:
        why = f"no data: the newest datapoint ({newest_at.isoformat()}) is older than {window.no_data_after}"
        key = idempotency_key(episode_id(monitor.id, newest_at), 0, "no_data")
        score = newest.score if newest and newest.at == newest_at else None
        return also_tell(ctx, plan, Tell("no_data", ctx.alert_kinds, why, newest_at, score, key), gap_since=newest_at)
    if window.gap or since is None:
        return plan
    if newest_at is None or newest_at <= since or newest is None:  # the alert was turned off meanwhile
        return also_set(ctx, plan, "no-data alert turned off: the open gap is forgotten", gap_since=None)
    why = f"data resumed: a datapoint at {newest_at.isoformat()} after the gap since {since.isoformat()}"
    key = idempotency_key(episode_id(monitor.id, since), 0, "data_resumed")
    resumed = Tell("data_resumed", ctx.alert_kinds, why, newest.at, newest.score, key)
    return also_tell(ctx, plan, resumed, gap_since=None)


# -- shared by the rules above ----------------------------------------------------------------------------------


def _retrain_or_alert(ctx: Context, window: Window, episode: Episode, alert: NoticeEvent) -> Move:
    """Critical: retrain when nothing blocks it, else alert (`critical`, or `escalation` after a retraining) and
    say why (ALARM)."""
    trigger = window.trigger
    blockers, guards = _blockers(ctx, episode, trigger)
    above = window.above_text(trigger, str(trigger.score) if trigger else "missing")
    if not blockers:
        return start_retraining(ctx, episode, trigger, above, guards)
    why = f"{above}; retraining blocked: {'; '.join(blockers)}"
    escalated = episode.model_copy(update={"escalated": episode.escalated or alert == "escalation"})
    notice = tell(ctx, alert, ctx.alert_kinds, why, trigger)
    return Move(Status.ALARM, why, {"episode": escalated}, (notice,), guards)


def _blockers(ctx: Context, episode: Episode, trigger: Observation | None) -> tuple[list[str], dict[str, bool]]:
    """Why a retraining may not start now (empty when it may), and how each guard fared."""
    monitor, state, now = ctx.monitor, ctx.state, ctx.now
    reasons: list[str] = []
    guards: dict[str, bool] = {}
    if trigger is None:
        reasons.append("no real datapoint breached (missing data counted as breaching)")
    else:
        for guard in monitor.guards:
            value = trigger.metrics.get(guard.metric)
            guards[guard.describe()] = holds = guard.holds(value)
            if not holds:
                reasons.append(f"guard {guard.describe()} does not hold ({guard.metric}={value})")
    if state.grace_until is not None and now < state.grace_until:
        reasons.append(f"grace period until {state.grace_until.isoformat()}")
    if state.last_retrain_at is not None and now < state.last_retrain_at + monitor.cooldown:
        reasons.append(f"cooldown until {(state.last_retrain_at + monitor.cooldown).isoformat()}")
    if episode.retry_not_before is not None and now < episode.retry_not_before:
        reasons.append(f"back-off after a failed retraining until {episode.retry_not_before.isoformat()}")
    if episode.retrains >= monitor.max_retrains_per_episode:
        reasons.append(f"cap of {monitor.max_retrains_per_episode} retrainings per episode reached")
    if episode.retrains and not episode.last_attempt_failed and not monitor.retrain_on_persisting_drift:
        reasons.append("drift persists after retraining and retrain_on_persisting_drift is off")
    if not monitor.actions.on_retrain:
        reasons.append("no on_retrain actions configured")
    reasons += approval_blockers(episode)
    if monitor.mode != "shadow" and not monitor.acting_at(now):
        reasons.append(muted_reason(monitor, now))
    reasons.extend(ctx.held)  # the fleet's: inhibited by a cause, held by the budget (policy/fleet.py)
    return reasons, guards


def _close_episode(ctx: Context, window: Window, why: str) -> Move:
    """Below reset: the episode closes and the monitor re-arms (at warning level if the warning still holds)."""
    if window.warning:
        return Move(Status.WARNING, f"{why}; re-armed at warning level", {"episode": None})
    episode = ctx.state.episode
    if episode is not None and not episode.announced:
        return Move(Status.OK, f"{why}; re-armed (its alert was muted: no recovered alert)", {"episode": None})
    reason = f"{why}; re-armed"
    return Move(Status.OK, reason, {"episode": None}, (tell(ctx, "recovered", ctx.alert_kinds, reason),))
