"""The lifecycle rules: a retraining's status, a deployment, the outbox giving up or cancelling; one function each,
named in the rules table like the rules of the states (`rules.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from retrain_trigger.model import (
    ActionRecord,
    Episode,
    LifecycleEvent,
    Status,
)
from retrain_trigger.policy.decisions import Context, Keep, Move, Plan, tell

# -- lifecycle: a retraining's status, a deployment, the outbox giving up ------------------------------------------


def model_deployed(ctx: Context, event: LifecycleEvent) -> Plan:
    """Any state: a deployment starts the grace period (or keeps a longer one running), and the model's age."""
    state, until = ctx.state, event.at + ctx.monitor.grace_period
    if state.grace_until is not None and state.grace_until >= until:
        if ctx.monitor.max_model_age is None or (state.model_at is not None and state.model_at >= event.at):
            return Keep("model deployed; grace period already runs longer")
        return Move(
            state.status,
            "model deployed; grace period already runs longer; its age counts from now",
            {"model_at": event.at},
        )
    fields = {"grace_until": until, "model_at": max(event.at, state.model_at or event.at)}
    return Move(state.status, f"model deployed: no retraining before {until.isoformat()}", fields)


def other_attempt(ctx: Context, event: LifecycleEvent) -> Keep | None:
    """A status event counts only for the running attempt: its execution ARN, or its episode id and attempt number.
    Anything else (a late event of an earlier attempt, another pipeline's run) is `ignored` (None: it counts)."""
    episode = ctx.state.episode
    if ctx.state.status is not Status.RETRAINING or episode is None:
        return Keep(f"{event.kind} event ignored: no retraining in progress", "ignored")
    mismatch = _attempt_mismatch(episode, event)
    return Keep(f"{event.kind} event ignored: {mismatch}", "ignored") if mismatch else None


def retraining_running(ctx: Context, event: LifecycleEvent) -> Plan:
    """RETRAINING, `executing`: the execution ARN is recorded when the start's answer was lost."""
    episode = ctx.state.episode
    assert episode is not None
    if episode.execution_arn or not event.execution_arn:
        return Keep("retraining is running")
    running = episode.model_copy(update={"execution_arn": event.execution_arn})
    return Move(Status.RETRAINING, "retraining is running", {"episode": running})


def retraining_succeeded(ctx: Context, event: LifecycleEvent) -> Move:
    """RETRAINING -> RETRAINED: the grace period starts; only datapoints after now are evidence from here on."""
    episode, state = ctx.state.episode, ctx.state
    assert episode is not None
    until = event.at + ctx.monitor.grace_period
    grace = max(until, state.grace_until) if state.grace_until else until
    execution_arn = episode.execution_arn or event.execution_arn
    return Move(
        Status.RETRAINED,
        f"retraining succeeded (attempt {episode.retrains}); grace period until {grace.isoformat()}",
        {
            "grace_until": grace,
            "episode": episode.model_copy(update={"execution_arn": execution_arn}),
            "model_at": event.at,
        },
    )


def retraining_failed(ctx: Context, why: str) -> Move:
    """RETRAINING -> ALARM (the pipeline failed, stopped or timed out): alert, and allow the next attempt only after
    `cooldown`; the attempt's pending retraining actions are cancelled."""
    assert ctx.state.episode is not None
    retry_at = ctx.now + ctx.monitor.cooldown
    episode = ctx.state.episode.model_copy(update={"last_attempt_failed": True, "retry_not_before": retry_at})
    reason = f"{why}; next attempt not before {retry_at.isoformat()}"
    notice = tell(ctx, "retrain_failed", ctx.alert_kinds, reason)
    return Move(Status.ALARM, reason, {"episode": episode}, (notice,))


def start_given_up(ctx: Context, action: ActionRecord) -> Plan:
    """RETRAINING: the outbox gave up on the action that starts the running attempt: that attempt failed."""
    state, episode = ctx.state, ctx.state.episode
    if (
        state.status is not Status.RETRAINING
        or episode is None
        or action.notice.episode_id != episode.id
        or action.notice.attempt != episode.retrains
    ):
        return Keep(f"{action.kind} gave up for an attempt that is no longer running", "ignored")
    return retraining_failed(
        ctx,
        f"retraining attempt {episode.retrains} could not be started: {action.kind} failed "
        f"{action.attempts} times ({action.last_error or 'no error text'})",
    )


def actions_cancelled(ctx: Context, actions: Sequence[ActionRecord], why: str) -> Move:
    """Any state: the outbox cancels `actions` (shadow mode sends nothing; a start found never made for an attempt
    that ended is not made). When that withdraws the start of the running attempt before it ever went out, the
    attempt is withdrawn too (ALARM): no pipeline ran, so it is not counted."""
    state, episode = ctx.state, ctx.state.episode
    running_start = (
        state.status is Status.RETRAINING
        and episode is not None
        and episode.retrain_started_at is None
        and any(
            a.notice.event == "retrain_started"
            and a.notice.episode_id == episode.id
            and a.notice.attempt == episode.retrains
            for a in actions
        )
    )
    if not running_start or episode is None:
        return Move(state.status, why, cancels=tuple(actions))
    withdrawn = episode.model_copy(update={"retrains": episode.retrains - 1, "retrain_requested_at": None})
    reason = f"{why}; retraining attempt {episode.retrains} withdrawn before it started (not counted)"
    return Move(Status.ALARM, reason, {"episode": withdrawn}, cancels=tuple(actions))


def _attempt_mismatch(episode: Episode, event: LifecycleEvent) -> str:
    """Why `event` is not about the running attempt of `episode`; empty when it is."""
    if event.execution_arn and episode.execution_arn:
        if event.execution_arn != episode.execution_arn:
            return f"execution {event.execution_arn} is not the running attempt's ({episode.execution_arn})"
        return ""
    if event.episode_id is None or event.attempt is None:
        return "it names no execution of ours, nor an episode id and attempt number to match"
    if event.episode_id != episode.id:
        return f"it is for episode {event.episode_id}, not {episode.id}"
    if event.attempt != episode.retrains:
        return f"it is for attempt {event.attempt}, the running attempt is {episode.retrains}"
    return ""
