"""What each action says: a committed action rendered as an alert, a request, a pipeline start or an event."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import BadInput, RetrainTriggerError
from retrain_trigger.model import ActionRecord, MonitorState, Notice, RefusedItem, ranked, token
from retrain_trigger.ports import Alert, BusEvent, PipelineStart, QueueMessage

RETRAIN_REQUESTED = "Retraining Requested"
DRIFT_ALERT = "Drift Alert"


def _num(value: float | None) -> str:
    return "missing" if value is None else f"{value:g}"


def _age(notice: Notice) -> str:
    """How old the newest datapoint was when the notice was decided, e.g. '2d 3h' or '45m'."""
    if notice.datapoint_at is None:
        return "unknown"
    seconds = max(int((notice.decided_at - notice.datapoint_at).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{rest // 60}m" if rest >= 60 else ""]
    return " ".join(p for p in parts if p) or f"{seconds}s"


def _repeat(notice: Notice) -> str:
    return f" (repeat {notice.renotification})" if notice.renotification else ""


def headline(monitor: MonitorConfig, notice: Notice) -> str:
    score, critical = _num(notice.score), _num(monitor.critical)
    match notice.event:
        case "warning":
            return f"drift {score} > {_num(monitor.warning)}: warning"
        case "critical":
            return f"drift {score} > {critical}: alert only, retraining blocked{_repeat(notice)}"
        case "retrain_started":
            return f"drift {score} > {critical}: retraining started"
        case "escalation":
            return f"drift {score} > {critical} persists after retraining{_repeat(notice)}"
        case "no_data":
            return f"no data: the newest datapoint is {_age(notice)} old"
        case "data_resumed":
            return f"data resumed: drift {score}"
        case "recovered":
            return f"drift {score} back to normal: recovered"
        case "retrain_failed":
            return "retraining failed"
        case "approval_requested":
            return f"drift {score} > {critical}: retraining awaits approval"
        case "approval_expired":
            return "approval request expired: no retraining"
    raise AssertionError(notice.event)  # pragma: no cover - NoticeEvent is closed


def payload(monitor: MonitorConfig, state: MonitorState, action: ActionRecord, config_version: str) -> dict[str, Any]:
    notice = action.notice
    episode = state.episode
    return {
        "monitor_id": monitor.id,
        "event": notice.event,
        "severity": notice.severity,
        "score": notice.score,
        "datapoint_at": notice.datapoint_at.isoformat() if notice.datapoint_at else None,
        "decided_at": notice.decided_at.isoformat(),
        "thresholds": {"critical": monitor.critical, "reset": monitor.reset_level, "warning": monitor.warning},
        "state": state.status.value,
        "episode_id": notice.episode_id,
        "attempt": notice.attempt,
        "renotification": notice.renotification,
        "pipeline_execution_arn": episode.execution_arn if episode and episode.id == notice.episode_id else None,
        "reason": notice.reason,
        "idempotency_key": action.key,
        "config_version": config_version,
    } | ({"top_features": ranked(notice.features)} if notice.features else {})


def alert(
    monitor: MonitorConfig, state: MonitorState, action: ActionRecord, config_version: str, grouped_in: str = ""
) -> Alert:
    """`grouped_in`: the key of the published digest that lists this alert (fleet-alerts.md), else ''."""
    body = payload(monitor, state, action, config_version) | ({"grouped_in": grouped_in} if grouped_in else {})
    notice = action.notice
    lines = [
        f"{monitor.id}: {headline(monitor, notice)}",
        "",
        f"Score:          {_num(notice.score)} (datapoint {body['datapoint_at'] or 'none'})",
        f"Thresholds:     critical {_num(monitor.critical)}, reset {_num(monitor.reset_level)}, "
        f"warning {_num(monitor.warning)}",
        f"State:          {state.status.value}",
        f"Episode:        {notice.episode_id or '-'} (attempt {notice.attempt})",
        f"Renotification: {notice.renotification or 'no, the first alert'}",
        f"Pipeline run:   {body['pipeline_execution_arn'] or '-'}",
        f"Why:            {notice.reason}",
        *(
            [f"Top features:   {', '.join(f'{name} {_num(value)}' for name, value in notice.features)}"]
            if notice.features
            else []
        ),
        f"Key:            {action.key}",
        f"Config version: {config_version}",
    ]
    return Alert(
        subject=f"[{notice.severity.upper()}] {monitor.id} {headline(monitor, notice)}",
        text="\n".join(lines),
        payload=body,
        attributes={
            "monitor_id": monitor.id,
            "severity": notice.severity,
            "event": notice.event,
            "episode_id": notice.episode_id or "",
            "idempotency_key": action.key,
            "renotification": str(notice.renotification),
        }
        | ({"grouped_in": grouped_in} if grouped_in else {}),
    )


def error_details(monitor_id: str, error: RetrainTriggerError) -> dict[str, str]:
    """What a report and an alert say of a failure: the field too, where the input was bad."""
    return error.as_dict() if isinstance(error, BadInput) else {"monitor_id": monitor_id, "problem": str(error)}


def error_alert(monitor_id: str, error: RetrainTriggerError, key: str) -> Alert:
    """The evaluator's own input failed: say so loudly rather than stay silent."""
    detail = error_details(monitor_id, error)
    body = {"event": "evaluation_error", "severity": "error", "idempotency_key": key, **detail}
    return Alert(
        subject=f"[ERROR] {monitor_id} evaluation failed: {error}"[:100],
        text=f"{monitor_id}: evaluation failed, state left as it was.\n\n{error}\n\nKey: {key}",
        payload=body,
        attributes={"monitor_id": monitor_id, "severity": "error", "event": "evaluation_error", "idempotency_key": key},
    )


def refused_item_key(monitor_id: str, item_key: str) -> str:
    """The alert key of a bad score item: derived from the monitor and the item's own key, so whoever reports it (the
    score-window consumer as it enters, or the evaluator as it reads) reports it under one key."""
    return f"{monitor_id}:bad_score_item:{item_key}"


def refused_item_alert(monitor_id: str, item: RefusedItem) -> Alert:
    """A score item that cannot be a datapoint, named (monitor, item key, field) so its producer can fix or delete
    it."""
    key = refused_item_key(monitor_id, item.key)
    body = {
        "event": "bad_score_item",
        "severity": "error",
        "idempotency_key": key,
        "item_key": item.key,
        **item.error.as_dict(),
    }
    return Alert(
        subject=f"[ERROR] {monitor_id} score item refused: {item.error.field} of {item.key!r}"[:100],
        text=f"{monitor_id}: the score item {item.key!r} was refused and is not read; the monitor is decided on its "
        f"other datapoints.\n\n{item.error}\n\nKey: {key}",
        payload=body,
        attributes={"monitor_id": monitor_id, "severity": "error", "event": "bad_score_item", "idempotency_key": key},
    )


def action_failure_alert(
    monitor: MonitorConfig, action: ActionRecord, max_attempts: int, retried_every: timedelta | None = None
) -> Alert:
    """One of our actions failed a try (or gave up): said on its own, never queued behind the action that failed.
    `retried_every`: a start in an outage, retried at most that far apart until it goes through."""
    gave_up = action.status == "failed"
    what = f"gave up after {action.attempts} tries" if gave_up else f"try {action.attempts} of {max_attempts} failed"
    if retried_every is not None:
        what = f"try {action.attempts} failed"
    next_try = (
        "" if gave_up or action.next_try_at is None else f"; next try not before {action.next_try_at.isoformat()}"
    )
    if retried_every is not None:
        next_try += (
            f". The call never reached a pipeline: an outage, not a failed retraining. It is retried at most"
            f" {retried_every} apart until it goes through, and retraining attempt {action.notice.attempt} is not spent"
        )
    key = f"{action.key}:{action.kind}:failed#{action.attempts}"
    body = {
        "monitor_id": monitor.id,
        "event": "action_failed",
        "severity": "error",
        "action": action.kind,
        "action_key": action.key,
        "attempts": action.attempts,
        "gave_up": gave_up,
        "error": action.last_error,
        "episode_id": action.notice.episode_id,
        "idempotency_key": key,
    }
    return Alert(
        subject=f"[ERROR] {monitor.id} {action.kind} action {what}",
        text=f"{monitor.id}: the {action.kind} action of {action.notice.event} {what}{next_try}.\n\n"
        f"Error: {action.last_error}\n\nAction key: {action.key}\nKey: {key}",
        payload=body,
        attributes=_action_error_attributes(monitor, action, "action_failed", key),
    )


def _action_error_attributes(monitor: MonitorConfig, action: ActionRecord, event: str, key: str) -> dict[str, str]:
    """The filterable attributes of an alert about one of our own actions (severity `error`)."""
    return {
        "monitor_id": monitor.id,
        "severity": "error",
        "event": event,
        "episode_id": action.notice.episode_id or "",
        "idempotency_key": key,
    }


def unconfirmed_alert(monitor: MonitorConfig, action: ActionRecord, start: bool) -> Alert:
    """A try was announced by an invocation that never recorded its outcome (killed mid-call, or its write failed):
    it may or may not have landed. It is not repeated, so a person must check; `start`: it was the action that
    starts the retraining, which is therefore not known to have started."""
    key = f"{action.key}:{action.kind}:unconfirmed"
    consequence = (
        "It was the start of retraining attempt "
        f"{action.notice.attempt}: the retraining is not known to have started, and its timeout counts from the "
        f"decision at {action.notice.decided_at.isoformat()}."
        if start
        else "It is not repeated, so that it is never sent twice."
    )
    body = {
        "monitor_id": monitor.id,
        "event": "action_unconfirmed",
        "severity": "error",
        "action": action.kind,
        "action_key": action.key,
        "notice": action.notice.event,
        "tried_by": action.tried_by,
        "starts_retraining": start,
        "episode_id": action.notice.episode_id,
        "idempotency_key": key,
    }
    return Alert(
        subject=f"[ERROR] {monitor.id} {action.kind} action outcome unknown: check it",
        text=f"{monitor.id}: the {action.kind} action of {action.notice.event} was tried by {action.tried_by}, "
        "which never recorded whether it landed. Check whether it did (look for its key).\n\n"
        f"{consequence}\n\nAction key: {action.key}\nKey: {key}",
        payload=body,
        attributes=_action_error_attributes(monitor, action, "action_unconfirmed", key),
    )


def retrain_request(
    monitor: MonitorConfig, state: MonitorState, action: ActionRecord, config_version: str
) -> QueueMessage:
    body = payload(monitor, state, action, config_version)
    body["type"] = "RetrainRequest"
    body["pipeline"] = monitor.actions.pipeline.name if monitor.actions.pipeline else None
    return QueueMessage(
        body=body,
        group_id=monitor.id,
        deduplication_id=token(action.key),
        attributes={
            "monitor_id": monitor.id,
            "episode_id": action.notice.episode_id or "",
            "idempotency_key": action.key,
        },
    )


def _display_name(monitor_id: str, key: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", monitor_id).strip("-")[:60] or "monitor"
    return f"{slug}-{token(key, 12)}"


def pipeline_start(monitor: MonitorConfig, action: ActionRecord) -> PipelineStart:
    """Score, threshold, monitor id and episode id go to the pipeline as parameters, after the configured ones."""
    pipeline = monitor.actions.pipeline
    if pipeline is None:  # the config validator forbids this; keep the failure explicit anyway
        raise RetrainTriggerError(f"monitor {monitor.id!r}: field 'actions.pipeline': no pipeline configured")
    notice = action.notice
    parameters = {
        **pipeline.parameters,
        "MonitorId": monitor.id,
        "EpisodeId": notice.episode_id or "",
        "DriftScore": _num(notice.score),
        "DriftThreshold": _num(monitor.critical),
    }
    description = {
        "monitor_id": monitor.id,
        "episode_id": notice.episode_id,
        "attempt": notice.attempt,
        "idempotency_key": action.key,
    }
    return PipelineStart(
        pipeline_name=pipeline.name,
        parameters=parameters,
        client_request_token=token(action.key),
        display_name=_display_name(monitor.id, action.key),
        description=json.dumps(description),
    )


def bus_event(monitor: MonitorConfig, state: MonitorState, action: ActionRecord, config_version: str) -> BusEvent:
    body = payload(monitor, state, action, config_version)
    detail_type = RETRAIN_REQUESTED if action.notice.event == "retrain_started" else DRIFT_ALERT
    arn = body["pipeline_execution_arn"]
    return BusEvent(detail_type=detail_type, detail=body, resources=(arn,) if arn else ())
