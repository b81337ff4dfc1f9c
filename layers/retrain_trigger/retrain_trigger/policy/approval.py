"""Approval and acknowledgement: a retraining that waits for an operator, and an open episode's alert an operator
has seen. Pure, like the rules; `policy/operator.py` answers the operator's commands with them.

- `approval_needed`: a retraining that would start waits when the monitor says `approval: required`;
- `request_approval`: it moves to AWAITING_APPROVAL with one alert that says how to approve or reject;
- `approval_expired`: nobody answered within `approval_timeout`: ALARM, with an alert;
- `approval_blockers`: a rejected or expired request holds every retraining of the episode;
- `acknowledged`: an acknowledged episode's alert is not repeated until its next transition.
"""

from __future__ import annotations

from collections.abc import Mapping

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import Episode, MonitorState, Observation, Status, idempotency_key
from retrain_trigger.policy.decisions import Context, Move, Tell

APPROVED_EVENT = "Retraining Approved"
REJECTED_EVENT = "Retraining Rejected"
ACKNOWLEDGED_EVENT = "Alert Acknowledged"


def how_to_answer(monitor_id: str, episode: str) -> str:
    """The exact commands and bus events that answer a request (the alert says them)."""
    detail = f'{{"monitor_id": "{monitor_id}", "episode_id": "{episode}"}}'
    return (
        f"approve with `retrain-trigger approve {monitor_id} {episode} --stack STACK` or reject with "
        f"`retrain-trigger reject {monitor_id} {episode} --stack STACK` (STACK: this stack's name), or put a "
        f'"{APPROVED_EVENT}" or "{REJECTED_EVENT}" event with detail {detail} on the project bus'
    )


def approval_needed(monitor: MonitorConfig, episode: Episode) -> bool:
    """A retraining of `episode` that would start must wait for an operator: `approval: required`, and its next
    attempt not approved yet. Shadow mode never waits: it starts nothing."""
    if monitor.approval != "required" or monitor.mode == "shadow":
        return False
    return not (episode.approval == "approved" and episode.approval_attempt == episode.retrains + 1)


def request_approval(
    ctx: Context, episode: Episode, trigger: Observation | None, above: str, guards: Mapping[str, bool]
) -> Move:
    """The retraining that would start waits (AWAITING_APPROVAL); one alert, keyed by the attempt it asks for,
    says how to approve or reject and until when."""
    attempt = episode.retrains + 1
    asked = episode.model_copy(
        update={"approval": "requested", "approval_attempt": attempt, "approval_requested_at": ctx.now}
    )
    expires = ctx.now + ctx.monitor.approval_timeout
    why = (
        f"{above}: retraining awaits approval (attempt {attempt} of episode {episode.id}) until "
        f"{expires.isoformat()}: {how_to_answer(ctx.monitor.id, episode.id)}"
    )
    key = idempotency_key(episode.id, attempt, "approval_requested")
    at, score = (trigger.at, trigger.score) if trigger else (None, None)
    notice = Tell("approval_requested", ctx.alert_kinds, why, at, score, key)
    return Move(Status.AWAITING_APPROVAL, why, {"episode": asked}, (notice,), guards)


def approval_expired(ctx: Context) -> Move | None:
    """AWAITING_APPROVAL unanswered for `approval_timeout` (at the timeout itself): ALARM, one alert; the episode
    retrains no more (see `approval_blockers`). None: still waiting, or not waiting."""
    episode = ctx.state.episode
    if ctx.state.status is not Status.AWAITING_APPROVAL or episode is None or episode.approval != "requested":
        return None
    asked_at = episode.approval_requested_at or episode.opened_at
    if ctx.now < asked_at + ctx.monitor.approval_timeout:
        return None
    why = (
        f"approval request for attempt {episode.approval_attempt} of episode {episode.id} expired unanswered after "
        f"{ctx.monitor.approval_timeout}: no retraining in this episode; it stays open in ALARM until drift falls "
        "below reset"
    )
    key = idempotency_key(episode.id, episode.approval_attempt, "approval_expired")
    notice = Tell("approval_expired", ctx.alert_kinds, why, key=key)
    return Move(Status.ALARM, why, {"episode": episode.model_copy(update={"approval": "expired"})}, (notice,))


def approval_blockers(episode: Episode) -> list[str]:
    """Why the episode may not retrain any more: its request was rejected or expired (empty: nothing said)."""
    if episode.approval == "rejected":
        return [f"retraining rejected by an operator (attempt {episode.approval_attempt})"]
    if episode.approval == "expired":
        return [f"approval request for attempt {episode.approval_attempt} expired unanswered"]
    return []


def acknowledged(state: MonitorState) -> bool:
    """The open episode was acknowledged in the current status and no alert went out since: its alert is not
    repeated (`renotify`). A transition to another status, or a new alert, ends the acknowledgement."""
    episode = state.episode
    if episode is None or episode.acknowledged_at is None or episode.acknowledged_in is not state.status:
        return False
    return episode.notified_at is None or episode.notified_at <= episode.acknowledged_at
